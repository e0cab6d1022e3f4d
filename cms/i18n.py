"""Translation catalogs on disk: compiling .po files to the .mo files Flask-Babel reads."""

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

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
    pybabel("update", "-i", str(TEMPLATE), "-d", str(TRANSLATIONS_DIR))


def init_locale(locale: str) -> Path:
    """Start a catalog for a new locale from messages.pot, with that locale's plural rule."""
    pybabel("init", "-i", str(TEMPLATE), "-d", str(TRANSLATIONS_DIR), "-l", locale)
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"


def catalog_paths(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Every catalog: ours (messages.po) and the Flask-Security strings we translate (flask_security.po)."""
    return sorted(directory.glob("*/LC_MESSAGES/*.po"))


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
