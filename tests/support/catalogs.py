"""Catalog helpers for tests: what a built catalog says, apps in one test process kept from seeing each other's
translations (Flask-Babel caches catalogs per process, by locale only, whichever app's folder they came from), and
an app's code run in a process of its own (to be killed mid-write)."""

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import polib
from babel.support import Translations

from cms import catalog_store
from cms.catalog_editor import CatalogEditor
from cms.extensions import db
from cms.i18n import served_dir


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
    """`app` (the session's) serves catalogs built in `build` (its CATALOG_BUILD_DIR) from the committed copy
    `committed` for one test, and yields the folder it serves; afterwards it builds its own again on its next
    request."""
    saved = {
        name: app.config[name] for name in ("CATALOG_SOURCE_DIR", "CATALOG_BUILD_DIR", "BABEL_TRANSLATION_DIRECTORIES")
    }
    app.config.update(
        CATALOG_SOURCE_DIR=str(committed),
        CATALOG_BUILD_DIR=str(build),
        BABEL_TRANSLATION_DIRECTORIES=str(served_dir(build)),
    )
    try:
        with translations_of_this_test(app):
            catalog_store.refresh(app, force=True)
            yield served_dir(build)
    finally:
        app.config.update(saved)
        app.extensions.pop("cms.catalogs", None)


def entry_page(browser, locale: str, msgid: str) -> str:
    """The workspace page, of a search for `msgid`, that holds its entry: the search finds every entry holding the
    text ("Language" is in 29), 25 to a page."""
    for number in range(1, 100):
        response = browser.get(f"/admin/translations/{locale}/", query_string={"q": msgid, "page": number})
        if response.status_code == 404:  # past the last page
            break
        html = response.get_data(as_text=True)
        if f'<pre class="mb-1 msgid">{msgid}</pre>' in html:
            return html
    raise AssertionError(f"{msgid!r} is on no page of its search")


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


def keep_translation(locale: str, msgid: str, text: str, committed: Path) -> None:
    """A translator's save of `msgid` in `locale` as the database keeps it (from any instance), committed; the
    catalogs are not built."""
    catalog_store.claim_revision()
    entry = next(e for e in catalog_store.base_catalog(locale, committed) if e.msgid == msgid)
    entry.msgstr = text
    catalog_store.store(locale, entry, None)
    db.session.commit()


def served_pair(directory, locale: str, msgid: str) -> tuple[str, str]:
    """What a catalog folder gives for `msgid`: its .po (the workspace shows it) and its .mo (readers get it)."""
    return built_entry(directory, locale, msgid).msgstr, served_text(directory, locale, msgid)


ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("SECRET_KEY", "CATALOG_SOURCE_DIR", "CATALOG_BUILD_DIR", "UPLOADS_DIR", "EXPORTS_DIR", "IMPORTS_DIR")


def run_in_own_process(app, code: str) -> int:
    """Run `code` in a new Python process, in the app context of an app made with `app`'s database and folders
    (`app` inside `code`), as another process on the same machine would; its exit status (negative: the signal
    that ended it). Its output is not kept."""
    settings = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], **{k: app.config[k] for k in SETTINGS}}
    script = "import json, sys\nfrom cms import create_app\n"
    script += 'app = create_app("testing", **json.loads(sys.argv[1]))\nwith app.app_context():\n'
    script += textwrap.indent(textwrap.dedent(code), "    ")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(settings)], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    return done.returncode
