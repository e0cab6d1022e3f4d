"""One locale's UI catalog (.po) on disk, read and written with polib: finding entries, counting them, and
saves that compile first and swap files in atomically. File work only: where translators' changes are kept
and how an app's catalogs are built is cms/catalog_store.py's; who may change what, merging and audit are
cms/catalogs.py's."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import re
from collections import Counter
from pathlib import Path
from typing import overload

import polib
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import lazy_gettext as _l

from cms.domain import DomainError
from cms.i18n import compile_catalog, compiled, write_file

DOMAIN = "messages"
STATES = ("all", "untranslated", "fuzzy", "translated")


class CatalogError(DomainError):
    """A catalog operation refused; the message says why, in the reader's language."""


# -- entries ---------------------------------------------------------------------------------------
def entry_key(entry: polib.POEntry) -> str:
    """A stable short id for an entry: its context and msgid."""
    raw = f"{entry.msgctxt or ''}\x04{entry.msgid}".encode()
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]


def entry_state(entry: polib.POEntry) -> str:
    if "fuzzy" in entry.flags:
        return "fuzzy"
    return "translated" if entry.translated() else "untranslated"


def entry_value(entry: polib.POEntry) -> dict:
    """What a translator sees and edits: the forms and the fuzzy flag."""
    forms = {str(k): v for k, v in sorted(entry.msgstr_plural.items())} if entry.msgid_plural else {"0": entry.msgstr}
    return {"forms": forms, "fuzzy": "fuzzy" in entry.flags}


def set_entry(entry: polib.POEntry, forms: dict[str, str], fuzzy: bool, nplurals: int) -> None:
    """Give an entry a translator's forms ("0", "1", … as in `entry_value`) and fuzzy flag: the one way both a
    single save and an applied upload change an entry. Once it is no longer fuzzy, the earlier original that
    `pybabel update` noted beside it (#| msgid …) has been dealt with and goes too."""
    if entry.msgid_plural:
        for index in range(nplurals):
            entry.msgstr_plural[index] = forms.get(str(index), "")
    else:
        entry.msgstr = forms.get("0", "")
    if fuzzy and "fuzzy" not in entry.flags:
        entry.flags.append("fuzzy")
    if not fuzzy:
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None


@overload
def plural_count(catalog: polib.POFile) -> int: ...
@overload
def plural_count(catalog: polib.POFile, default: None) -> int | None: ...
def plural_count(catalog: polib.POFile, default: int | None = 2) -> int | None:
    """How many plural forms the catalog's Plural-Forms header gives; `default` when it gives none."""
    match = re.search(r"nplurals\s*=\s*(\d+)", catalog.metadata.get("Plural-Forms") or "")
    return int(match.group(1)) if match else default


def check_compiles(catalog: polib.POFile, locale: str) -> None:
    """Refuse a catalog Babel cannot compile, before it is kept anywhere."""
    try:
        write_mo(io.BytesIO(), read_po(io.BytesIO(str(catalog).encode("utf-8")), locale=locale), use_fuzzy=False)
    except Exception as exc:
        raise CatalogError(
            _l("The catalog could not be saved or compiled, so nothing changed: %(error)s", error=str(exc))
        ) from exc


def write_catalog(catalog: polib.POFile, po_path: Path) -> None:
    """Save `catalog` as `po_path` with its .mo beside it, so that readers only ever see whole files and a catalog
    that does not compile never replaces the working one: it is compiled in memory first, then the .mo and the
    .po are each written whole (`write_file`). Should the .po fail to be written, the .mo is compiled again from
    the working .po, so the two keep agreeing. They are still two renames: a process that dies between them
    leaves a new .mo beside an old .po, which is why cms.catalog_store writes catalogs only into a build folder
    no reader sees yet and switches the whole folder in at once."""
    mo_path = po_path.with_suffix(".mo")
    text = str(catalog).encode("utf-8")
    mo_written = False
    try:
        mo = compiled(text, po_path.parent.parent.name)
        write_file(mo_path, mo)
        mo_written = True
        write_file(po_path, text)
    except Exception as exc:
        if mo_written and po_path.exists():
            with contextlib.suppress(Exception):
                compile_catalog(po_path)
        raise CatalogError(
            _l("The catalog could not be saved or compiled, so nothing changed: %(error)s", error=str(exc))
        ) from exc


# -- catalogs --------------------------------------------------------------------------------------
def locales(directory: Path) -> list[str]:
    """The locales with a catalog of ours in `directory`."""
    return sorted(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


CATALOG_COUNTS_CACHED = 32  # versions of catalog files whose counts are kept (a few per language served)


@functools.lru_cache(maxsize=CATALOG_COUNTS_CACHED)
def entry_counts(po_path: str, version: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """The live entries of the catalog at `po_path`, and how many are translated, fuzzy and untranslated. `version`
    (the file's inode, size and modification time) names the file as it is: every write of a catalog replaces the
    file (`write_catalog`), so its counts are worked out again, where parsing it each time cost the console's front
    page and the translations page about 12 ms per language."""
    entries = [e for e in polib.pofile(po_path, wrapwidth=78) if not e.obsolete]
    counts = Counter(entry_state(e) for e in entries)
    return len(entries), counts["translated"], counts["fuzzy"], counts["untranslated"]


class CatalogEditor:
    """One locale's catalog in `directory` (the app's: `cms.i18n.translations_dir()`)."""

    def __init__(self, locale: str, directory: Path):
        if locale not in locales(directory):
            raise CatalogError(_l("There is no catalog for '%(locale)s'.", locale=locale))
        self.locale = locale
        self.directory = directory
        self.po_path = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        self.mo_path = self.po_path.with_suffix(".mo")

    def load(self) -> polib.POFile:
        return polib.pofile(str(self.po_path), wrapwidth=78)

    def live_entries(self, catalog: polib.POFile | None = None) -> list[polib.POEntry]:
        catalog = catalog or self.load()
        return [e for e in catalog if not e.obsolete]

    def stats(self) -> dict:
        """How many live entries the catalog has, and how many are translated, fuzzy and untranslated: worked out
        once per version of its file (`entry_counts`)."""
        found = self.po_path.stat()
        total, translated, fuzzy, untranslated = entry_counts(
            str(self.po_path), (found.st_ino, found.st_size, found.st_mtime_ns)
        )
        return {
            "locale": self.locale,
            "total": total,
            "translated": translated,
            "fuzzy": fuzzy,
            "untranslated": untranslated,
            "percent": round(100 * translated / total) if total else 100,
        }

    def find(self, state: str = "all", search: str = "") -> list[polib.POEntry]:
        if state not in STATES:
            raise CatalogError(_l("Unknown filter '%(state)s'.", state=state))
        needle = search.casefold().strip()
        found = []
        for entry in self.live_entries():
            if state != "all" and entry_state(entry) != state:
                continue
            if needle:
                haystack = " ".join(
                    [
                        entry.msgid,
                        entry.msgid_plural or "",
                        entry.msgstr,
                        *entry.msgstr_plural.values(),
                        entry.msgctxt or "",
                    ]
                ).casefold()
                if needle not in haystack:
                    continue
            found.append(entry)
        return found

    def write(self, catalog: polib.POFile) -> None:
        """Save `catalog` over this locale's files (see `write_catalog`)."""
        write_catalog(catalog, self.po_path)
