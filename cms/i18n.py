"""Translation catalogs on disk: where they are (the committed ones, and the ones an app serves), extracting and
merging with pybabel, starting a catalog for a new language, and compiling .po files to the .mo files
Flask-Babel reads."""

import io
import os
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath

import polib
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.util import LOCALTZ
from flask import Flask, current_app, has_app_context

from cms.translation_checks import entry_errors

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


def new_catalog(locale: str, template: Path) -> str:
    """The text of a catalog for `locale` started from `template`, as `pybabel init` writes it (with the
    language's plural rule from Babel's data)."""
    with template.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    catalog.revision_date = datetime.now(LOCALTZ)
    catalog.fuzzy = False
    out = io.BytesIO()
    write_po(out, catalog, width=76)
    return out.getvalue().decode("utf-8")


def _app(app: Flask | None) -> Flask | None:
    if app is None and has_app_context():
        return current_app
    return app


def source_dir(app: Flask | None = None) -> Path:
    """The committed catalogs, the developers' (pybabel's) side: CATALOG_SOURCE_DIR of the app (the current
    one when none is given), or the project's own outside any app."""
    app = _app(app)
    return Path(app.config["CATALOG_SOURCE_DIR"]) if app is not None else TRANSLATIONS_DIR


def translations_dir(app: Flask | None = None) -> Path:
    """The catalogs an app serves, built by cms.catalog_store: the first of its BABEL_TRANSLATION_DIRECTORIES
    (CATALOG_BUILD_DIR), or the project's own outside any app."""
    app = _app(app)
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


class CatalogCheckError(ValueError):
    """Catalogs refused by the translation checks; `problems` lists each entry at fault."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def catalog_problems(po_path: Path) -> list[str]:
    """What the translation checks refuse in a catalog's translated entries (markup other than the msgid's, text
    that does not format like it, …): the same checks a save or an upload runs."""
    catalog = polib.pofile(str(po_path))
    problems = []
    for entry in catalog.translated_entries():
        for error in entry_errors(entry):
            problems.append(f"{po_path.parent.parent.name} {entry.msgid[:60]!r}: {error}")
    return problems


def compile_catalogs(directory: Path | None = None) -> int:
    """Compile every catalog in `directory` (the committed ones by default: Flask-Security reads its own there),
    after checking ours (messages.po) entry by entry: a catalog that fails the checks is refused, none compiled."""
    directory = directory or source_dir()
    paths = catalog_paths(directory)
    problems = [problem for path in paths if path.name == f"{TEMPLATE.stem}.po" for problem in catalog_problems(path)]
    if problems:
        raise CatalogCheckError(problems)
    for path in paths:
        compile_catalog(path)
    return len(paths)
