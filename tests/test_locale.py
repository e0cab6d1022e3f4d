"""cms/locale.py: language names and file sizes as the reader writes them, and the request's catalog."""

import pytest
from flask import render_template_string
from flask_babel import force_locale, gettext

from cms import catalog_store, catalogs
from cms.catalog_editor import entry_key, entry_value
from cms.extensions import db
from cms.i18n import translations_dir
from cms.locale import file_size, language_name
from cms.models import User
from tests.support.catalogs import built_entry, translations_of_this_test
from tests.support.outages import app_beside


@pytest.mark.parametrize(
    ("size", "reader", "shown"),
    [
        (1, "en", "1 byte"),
        (10 * 1024 - 1, "en", "10,239 bytes"),  # exact up to the threshold, where a small limit must read exactly
        (10 * 1024 - 1, "zh", "10,239字节"),
        (10 * 1024, "en", "10 kB"),
        (50_000, "es", "48,8 kB"),
        (16 * 1024 * 1024, "zh", "16 MB"),
    ],
)
def test_a_size_is_exact_in_bytes_below_ten_kilobytes_and_rounded_above(app, size, reader, shown):
    with app.test_request_context(f"/?lang={reader}"):
        assert file_size(size) == shown


@pytest.mark.parametrize(("reader", "names"), [("en", "English Chinese Spanish"), ("zh", "英语 中文 西班牙语")])
def test_languages_are_named_in_the_readers_language(app, reader, names):
    with app.test_request_context(f"/?lang={reader}"):
        assert " ".join(language_name(code) for code in ("en", "zh", "es")) == names
        assert language_name("not a language") == "not a language"


@pytest.fixture
def instance(app, tmp_path, catalog_dir):
    """An app instance with catalogs of its own, built from the committed copy in `catalog_dir`, on the test
    database: Flask-Babel reads the folders an app was made with."""
    with app_beside(app, tmp_path, CATALOG_SOURCE_DIR=str(catalog_dir)) as made:
        with translations_of_this_test(made), made.app_context():
            catalog_store.refresh(made, force=True)
        yield made


def test_a_request_translates_in_the_locale_forced_on_it_and_back(instance):
    """The catalog a request keeps is the one of its current locale: force_locale (as mail in the reader's
    language uses) switches it, in Python and in templates, and leaving it switches back."""
    with instance.test_request_context("/?lang=en"):
        assert gettext("Blocked words") == "Blocked words"
        with force_locale("zh"):
            assert gettext("Blocked words") == "屏蔽词"
            assert render_template_string("{{ _('Blocked words') }}") == "屏蔽词"
            with force_locale("es"):
                assert gettext("Blocked words") == "Palabras bloqueadas"
            assert gettext("Blocked words") == "屏蔽词"
        assert gettext("Blocked words") == "Blocked words"
        assert render_template_string("{{ _('Blocked words') }}") == "Blocked words"


def test_a_catalog_reloaded_during_a_request_is_what_its_later_strings_read(instance, users):
    with translations_of_this_test(instance), instance.test_request_context("/?lang=es"):
        assert gettext("Blocked words") == "Palabras bloqueadas"
        entry = built_entry(translations_dir(instance), "es", "Blocked words")
        translator = db.session.get(User, users["translator"].id)
        saved = catalogs.save_translation(
            translator, "es", entry_key(entry), entry_value(entry), {"0": "Vetadas"}, False
        )
        assert saved.ok
        catalog_store.refresh(instance)
        assert gettext("Blocked words") == "Vetadas"
