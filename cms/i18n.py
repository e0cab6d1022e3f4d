"""Translation catalogs on disk: where they are, extracting and merging with pybabel, compiling .po files to
the .mo files Flask-Babel reads, and telling every worker when they changed."""

import os
import tempfile
from pathlib import Path, PurePosixPath

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask, current_app, has_app_context

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "translations"
TEMPLATE = TRANSLATIONS_DIR / "messages.pot"
SOURCES = ("cms", "admin_views")  # folders under ROOT holding translatable strings
KEYWORDS = ["_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "lazy_ngettext:1,2"]


def pybabel(*args: str) -> None:
    """Run a pybabel command in-process (same as the `pybabel` script)."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(output: Path = TEMPLATE) -> Path:
    """Collect the translatable strings of cms/ and admin_views/ (Python and Jinja, as babel.cfg maps them)
    into messages.pot, as `pybabel extract` would, except that each reference is relative to the project
    root (`#: cms/public/views.py:12`) wherever the checkout lives and whatever the working directory."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(KEYWORDS)}
    catalog = Catalog(project="cms")
    for folder in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / folder, method_map, options_map, keywords=keywords
        ):
            location = (PurePosixPath(folder, filename).as_posix(), lineno)
            catalog.add(message, None, [location], auto_comments=comments, context=context)
    with output.open("wb") as fh:
        write_po(fh, catalog, width=76, sort_by_file=True)
    return output


def update(directory: Path) -> None:
    """Merge messages.pot into every locale's catalog (new strings appear untranslated, changed ones fuzzy)."""
    pybabel("update", "-i", str(directory / TEMPLATE.name), "-d", str(directory))


def init_locale(locale: str, directory: Path) -> Path:
    """Start a catalog for a new locale from messages.pot, with that locale's plural rule."""
    pybabel("init", "-i", str(directory / TEMPLATE.name), "-d", str(directory), "-l", locale)
    return directory / locale / "LC_MESSAGES" / "messages.po"


def translations_dir(app: Flask | None = None) -> Path:
    """The catalogs an app serves: the first of its BABEL_TRANSLATION_DIRECTORIES (the current app's when
    none is given), or the project's own outside any app."""
    if app is None and has_app_context():
        app = current_app
    if app is None:
        return TRANSLATIONS_DIR
    return Path(app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0])


def catalog_paths(directory: Path) -> list[Path]:
    """Every catalog: ours (messages.po), Flask-Admin's (admin.po) and Flask-Security's (flask_security.po)."""
    return sorted(directory.glob("*/LC_MESSAGES/*.po"))


def compile_catalog(po_path: Path, mo_path: Path | None = None) -> Path:
    """Compile a .po into its .mo (beside it unless `mo_path` says where), the one way every catalog is
    compiled: written to a temporary file in the same folder, flushed, then renamed into place, so a reader
    never sees half a file. The .po's locale is the name of the folder above LC_MESSAGES.

    Fuzzy entries are left out, so readers never see a translation nobody has checked.
    """
    mo_path = mo_path or po_path.with_suffix(".mo")
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=po_path.parent.parent.name)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=mo_path.parent, suffix=".mo.tmp", delete=False) as fh:
            tmp = Path(fh.name)
            write_mo(fh, catalog, use_fuzzy=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, mo_path)
        tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return mo_path


def compile_catalogs(directory: Path | None = None) -> int:
    """Compile every catalog in `directory` (the app's, or the project's outside an app)."""
    directory = directory or translations_dir()
    paths = catalog_paths(directory)
    for path in paths:
        compile_catalog(path)
    touch_stamp(directory)
    return len(paths)


# -- serving changed catalogs without a restart ------------------------------------------------------
# Every save touches one stamp file; each worker compares its time with the one it last saw on every
# request (one stat) and drops Flask-Babel's cached catalogs when it moved.
STAMP = ".catalogs-changed"


def touch_stamp(directory: Path) -> None:
    stamp = directory / STAMP
    stamp.touch()
    os.utime(stamp)


def reload_if_changed(app) -> bool:
    """Clear the translation caches of this process when any catalog was saved since it last looked."""
    stamp = translations_dir(app) / STAMP
    try:
        mtime = stamp.stat().st_mtime_ns
    except OSError:  # never touched yet: the first save will create it, and that must count as a change
        mtime = 0
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
