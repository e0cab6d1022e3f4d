"""Translation catalogs on disk: where they are (the committed ones, and the ones an app serves), extracting and
merging with pybabel, starting a catalog for a new language, and compiling .po files to the .mo files
Flask-Babel reads. Every file is written whole (a temporary file, renamed over it) while its catalog folder is
locked, so the start-up sweep (cms.catalog_store.remove_leftovers) only removes what a process that died left."""

import contextlib
import fcntl
import io
import os
import re
import shutil
import uuid
from collections.abc import Iterator
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
KEYWORDS = ["_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "lazy_ngettext:1,2", "lazy_pgettext:1c,2"]
SERVED = "current"  # in an app's CATALOG_BUILD_DIR: the link to the complete build it serves (cms.catalog_store)
TEMPORARY = ".tmp"  # how the name of every temporary file or folder a catalog write makes ends
OLD_PREVIEW = re.compile(r"upload-[0-9a-f]{32}\.json")  # an upload preview as versions before signed tokens kept it


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
    text = io.BytesIO()
    write_po(text, catalog, width=76, sort_by_file=True)
    with folder_lock(output.parent):
        write_file(output, text.getvalue())
    return output


def update(directory: Path) -> None:
    """Merge messages.pot into every locale's catalog (new strings appear untranslated, changed ones fuzzy).
    pybabel writes each catalog as tmp<name>.po and renames it over <name>.po."""
    with folder_lock(directory):
        pybabel("update", "-i", str(directory / TEMPLATE.name), "-d", str(directory))


def init_locale(locale: str, directory: Path) -> Path:
    """Start a catalog for a new locale from messages.pot, with that locale's plural rule."""
    path = directory / locale / "LC_MESSAGES" / "messages.po"
    with folder_lock(directory):
        write_file(path, new_catalog(locale, directory / TEMPLATE.name).encode("utf-8"))
    return path


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


def served_dir(build_dir: Path) -> Path:
    """The catalogs an app with this CATALOG_BUILD_DIR serves: a link that cms.catalog_store points at each new
    build once it is complete, so every catalog (.po and .mo, every language) switches in one step."""
    return build_dir / SERVED


def translations_dir(app: Flask | None = None) -> Path:
    """The catalogs an app serves, built by cms.catalog_store: the first of its BABEL_TRANSLATION_DIRECTORIES
    (`served_dir(CATALOG_BUILD_DIR)`), or the project's own outside any app."""
    app = _app(app)
    if app is None:
        return TRANSLATIONS_DIR
    return Path(app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0])


def catalog_paths(directory: Path) -> list[Path]:
    """Every catalog: ours (messages.po), Flask-Admin's (admin.po) and Flask-Security's (flask_security.po);
    not what an unfinished write left beside them."""
    return sorted(set(directory.glob("*/LC_MESSAGES/*.po")) - set(leftovers(directory)))


# -- writing safely ------------------------------------------------------------------------------------
@contextlib.contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """Hold the catalog folder `directory` (committed or a build) while writing into it or sweeping it: one
    process of the machine at a time. The lock is the folder's own (flock on it), so a read-only checkout needs
    no lock file, and a process that dies lets go of it."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` as `path` so that a reader only ever sees the old file or the new one, whole: into a
    temporary file beside it (`<name>.<random>.tmp`, with the permissions any new file of the process gets),
    flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}{TEMPORARY}")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def leftovers(directory: Path) -> list[Path]:
    """What catalog writes that never finished left in the catalog folder `directory`: the temporary files
    (`*.tmp`, at its top and in each <locale>/LC_MESSAGES) and pybabel update's copies (tmp<name>.po beside
    <name>.po); and the upload previews earlier versions kept there (upload-<token>.json), which nothing applies
    any more. Nothing else: only names no catalog has."""
    found = [*directory.glob(f"*{TEMPORARY}"), *directory.glob(f"*/LC_MESSAGES/*{TEMPORARY}")]
    found += [path for path in directory.glob("*/LC_MESSAGES/tmp*.po") if (path.parent / path.name[3:]).is_file()]
    found += [path for path in directory.glob("*/LC_MESSAGES/upload-*.json") if OLD_PREVIEW.fullmatch(path.name)]
    return sorted(found)


def remove(path: Path) -> None:
    """Remove a file, a link (never what it points at) or a folder with what it holds."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def compiled(po: bytes, locale: str) -> bytes:
    """A .po's text compiled to the .mo Flask-Babel reads, the one way every catalog is compiled. Fuzzy entries
    are left out, so readers never see a translation nobody has checked."""
    mo = io.BytesIO()
    write_mo(mo, read_po(io.BytesIO(po), locale=locale), use_fuzzy=False)
    return mo.getvalue()


def compile_catalog(po_path: Path, mo_path: Path | None = None) -> Path:
    """Compile a .po into its .mo (beside it unless `mo_path` says where), written whole (`write_file`), so a
    reader never sees half a file. The .po's locale is the name of the folder above LC_MESSAGES."""
    mo_path = mo_path or po_path.with_suffix(".mo")
    write_file(mo_path, compiled(po_path.read_bytes(), po_path.parent.parent.name))
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
    after checking ours (messages.po) entry by entry: a catalog that fails the checks is refused, none compiled.
    Each .mo is replaced whole, and readers read only the .mo: a compile that dies half-way leaves every
    language's .mo either as it was or as it is now, never half of one."""
    directory = directory or source_dir()
    with folder_lock(directory):
        paths = catalog_paths(directory)
        problems = [p for path in paths if path.name == f"{TEMPLATE.stem}.po" for p in catalog_problems(path)]
        if problems:
            raise CatalogCheckError(problems)
        for path in paths:
            compile_catalog(path)
    return len(paths)
