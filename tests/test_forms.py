"""The app's forms (cms.forms): WTForms' messages from a catalog kept per language."""

import os

from wtforms.i18n import messages_path

from cms.forms import WTFORMS_CATALOGS_CACHED, wtforms_catalog

REQUIRED = "This field is required."


def test_wtforms_catalogs_are_kept_for_catalogs_cached_languages_and_one_more_evicts():
    """Up to WTFORMS_CATALOGS_CACHED languages' catalogs are kept (each read from WTForms' files once); one more
    language puts out the least recently used, which is read again when next asked for."""
    shipped = sorted(name for name in os.listdir(messages_path()) if os.path.isdir(os.path.join(messages_path(), name)))
    languages = (shipped + [f"x{n}" for n in range(WTFORMS_CATALOGS_CACHED + 1)])[: WTFORMS_CATALOGS_CACHED + 1]
    wtforms_catalog.cache_clear()
    shown = [wtforms_catalog(code).gettext(REQUIRED) for code in languages[:WTFORMS_CATALOGS_CACHED]]
    assert wtforms_catalog.cache_info().currsize == WTFORMS_CATALOGS_CACHED
    assert [wtforms_catalog(code).gettext(REQUIRED) for code in languages[:WTFORMS_CATALOGS_CACHED]] == shown
    assert wtforms_catalog.cache_info().misses == WTFORMS_CATALOGS_CACHED  # every second ask was kept
    wtforms_catalog(languages[-1])
    info = wtforms_catalog.cache_info()
    assert info.currsize == WTFORMS_CATALOGS_CACHED and info.misses == WTFORMS_CATALOGS_CACHED + 1
    assert wtforms_catalog(languages[0]).gettext(REQUIRED) == shown[0]  # the least recently used went out
    assert wtforms_catalog.cache_info().misses == WTFORMS_CATALOGS_CACHED + 2
    assert "Este campo es obligatorio." in shown  # the shipped catalogs are among them, translated
    wtforms_catalog.cache_clear()
