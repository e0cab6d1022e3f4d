"""Translation catalogs on disk: compiling .po files to the .mo files Flask-Babel reads."""

import os
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, has_app_context

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "translations"
TEMPLATE = TRANSLATIONS_DIR / "messages.pot"
KEYWORDS = ["_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "lazy_ngettext:1,2"]


def pybabel(*args: str) -> None:
    """Run a pybabel command in-process (same as the `pybabel` script)."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> Path:
    """Collect the translatable strings of cms/ and admin_views/ (Python and Jinja) into messages.pot."""
    keywords = [arg for kw in KEYWORDS for arg in ("-k", kw)]
    pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), *keywords, "--sort-by-file", "--project", "cms",
        "-o", str(TEMPLATE), str(ROOT / "cms"), str(ROOT / "admin_views"),
    )  # fmt: skip
    return TEMPLATE


def update() -> None:
    """Merge messages.pot into every locale's catalog (new strings appear untranslated, changed ones fuzzy)."""
    pybabel("update", "-i", str(translations_dir() / TEMPLATE.name), "-d", str(translations_dir()))


def init_locale(locale: str) -> Path:
    """Start a catalog for a new locale from messages.pot, with that locale's plural rule."""
    directory = translations_dir()
    pybabel("init", "-i", str(directory / TEMPLATE.name), "-d", str(directory), "-l", locale)
    return directory / locale / "LC_MESSAGES" / "messages.po"


def translations_dir() -> Path:
    """The catalogs the running app serves (BABEL_TRANSLATION_DIRECTORIES), else the project's."""
    if has_app_context():
        return Path(current_app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0])
    return TRANSLATIONS_DIR


def catalog_paths(directory: Path | None = None) -> list[Path]:
    """Every catalog: ours (messages.po) and the Flask-Security strings we translate (flask_security.po)."""
    return sorted((directory or translations_dir()).glob("*/LC_MESSAGES/*.po"))


def compile_catalog(po_path: Path) -> Path:
    """Compile one .po next to itself, written to a temporary file and renamed into place.

    Fuzzy entries are left out, so readers never see a translation nobody has checked.
    """
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=po_path.parent.parent.name)
    mo_path = po_path.with_suffix(".mo")
    tmp = mo_path.with_suffix(".mo.tmp")
    with tmp.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)
    tmp.replace(mo_path)
    return mo_path


def compile_catalogs(directory: Path | None = None) -> int:
    paths = catalog_paths(directory)
    for path in paths:
        compile_catalog(path)
    touch_stamp(directory)
    return len(paths)


# -- serving changed catalogs without a restart ------------------------------------------------------
# Every save touches one stamp file; each worker compares its time with the one it last saw on every
# request (one stat) and drops Flask-Babel's cached catalogs when it moved.
STAMP = ".catalogs-changed"


def touch_stamp(directory: Path | None = None) -> None:
    stamp = (directory or translations_dir()) / STAMP
    stamp.touch()
    os.utime(stamp)


def reload_if_changed(app) -> bool:
    """Clear the translation caches of this process when any catalog was saved since it last looked."""
    stamp = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0]) / STAMP
    try:
        mtime = stamp.stat().st_mtime_ns
    except OSError:
        return False
    seen = app.extensions.get("cms.catalog_stamp")
    if seen == mtime:
        return False
    app.extensions["cms.catalog_stamp"] = mtime
    if seen is None:  # this worker's first look: nothing cached from before
        return False
    app.extensions["babel"].instance.domain_instance.cache.clear()
    security = app.extensions.get("security")
    if security is not None and getattr(security, "i18n_domain", None) is not None:
        security.i18n_domain.cache.clear()
    return True
