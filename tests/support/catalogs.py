"""Catalog helpers for tests: what a built catalog says, and apps in one test process kept from seeing each other's
translations (Flask-Babel caches catalogs per process, by locale only, whichever app's folder they came from)."""

import contextlib
import re
from pathlib import Path

import polib
from babel.support import Translations

from cms import catalog_store
from cms.catalog_editor import CatalogEditor


def forget_translations(app) -> None:
    app.extensions["babel"].instance.domain_instance.cache.clear()


@contextlib.contextmanager
def translations_of_this_test(app):
    """Start and end with Flask-Babel's per-process cache empty, so no other test sees strings this one saved."""
    forget_translations(app)
    try:
        yield
    finally:
        forget_translations(app)


def built_entry(directory, locale: str, msgid: str) -> polib.POEntry:
    """The entry for `msgid` in the .po an app built (or any catalog folder)."""
    return next(e for e in CatalogEditor(locale, Path(directory)).live_entries() if e.msgid == msgid)


def served_text(directory, locale: str, msgid: str) -> str:
    """What the compiled .mo in `directory` gives for `msgid`."""
    return Translations.load(str(directory), [locale]).gettext(msgid)


@contextlib.contextmanager
def serving(app, committed: Path, build: Path):
    """`app` (the session's) serves catalogs built in `build` from the committed copy `committed` for one test;
    afterwards it builds its own folder again on its next request."""
    saved = {
        name: app.config[name] for name in ("CATALOG_SOURCE_DIR", "CATALOG_BUILD_DIR", "BABEL_TRANSLATION_DIRECTORIES")
    }
    app.config.update(
        CATALOG_SOURCE_DIR=str(committed), CATALOG_BUILD_DIR=str(build), BABEL_TRANSLATION_DIRECTORIES=str(build)
    )
    try:
        with translations_of_this_test(app):
            catalog_store.refresh(app, force=True)
            yield build
    finally:
        app.config.update(saved)
        app.extensions.pop("cms.catalogs", None)


def entry_form(page_html: str, msgid: str) -> dict:
    """The save form of the entry whose original is `msgid` on a workspace page, as the browser would post it."""
    for card in page_html.split('<div class="card mb-3 entry')[1:]:
        if f'<pre class="mb-1 msgid">{msgid}</pre>' in card:
            form = card.split("<form", 1)[1]
            values = dict(re.findall(r'name="(key|csrf_token)" value="([^"]*)"', form))
            original = re.search(r'name="original" value="([^"]*)"', form).group(1)
            values["original"] = original.replace("&#34;", '"').replace("&quot;", '"')
            return values
    raise AssertionError(f"{msgid!r} is not on the page")
