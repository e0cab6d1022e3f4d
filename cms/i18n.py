"""Translation catalogs on disk: compiling .po files to the .mo files Flask-Babel reads."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def catalog_paths(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*/LC_MESSAGES/messages.po"))


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


def compile_catalogs(directory: Path = TRANSLATIONS_DIR) -> int:
    paths = catalog_paths(directory)
    for path in paths:
        compile_catalog(path)
    return len(paths)
