"""The translator workspace's rules: reading and editing the UI catalogs (.po) with polib, atomic saves
that compile first, per-entry merging between translators, uploads. The checks on each translation live
in cms/translation_checks.py."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polib
from babel import Locale, UnknownLocaleError
from babel.messages.pofile import PoFileError, read_po

from cms import previews
from cms.i18n import TEMPLATE, compile_catalog, init_locale, touch_stamp
from cms.translation_checks import entry_errors

DOMAIN = "messages"
STATES = ("all", "untranslated", "fuzzy", "translated")


class CatalogError(ValueError):
    """A catalog operation refused; the message says why."""


@dataclass
class SaveResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    conflict: dict | None = None  # {"theirs": …, "yours": …} when another translator saved first


# -- reading -----------------------------------------------------------------------------------------
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


def plural_count(catalog: polib.POFile) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", catalog.metadata.get("Plural-Forms", ""))
    return int(match.group(1)) if match else 2


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


def locales(directory: Path) -> list[str]:
    return sorted(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


class CatalogEditor:
    """One locale's catalog in `directory` (the app's: `cms.i18n.translations_dir()`)."""

    def __init__(self, locale: str, directory: Path):
        if locale not in locales(directory):
            raise CatalogError(f"There is no catalog for {locale!r}.")
        self.locale = locale
        self.directory = directory
        self.po_path = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        self.mo_path = self.po_path.with_suffix(".mo")
        self.lock_path = self.po_path.with_suffix(".lock")

    def load(self) -> polib.POFile:
        return polib.pofile(str(self.po_path), wrapwidth=78)

    def live_entries(self, catalog: polib.POFile | None = None) -> list[polib.POEntry]:
        catalog = catalog or self.load()
        return [e for e in catalog if not e.obsolete]

    def stats(self) -> dict:
        entries = self.live_entries()
        counts = Counter(entry_state(e) for e in entries)
        total = len(entries)
        return {
            "locale": self.locale,
            "total": total,
            "translated": counts["translated"],
            "fuzzy": counts["fuzzy"],
            "untranslated": counts["untranslated"],
            "percent": round(100 * counts["translated"] / total) if total else 100,
        }

    def find(self, state: str = "all", search: str = "") -> list[polib.POEntry]:
        if state not in STATES:
            raise CatalogError(f"Unknown filter {state!r}.")
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

    # -- writing -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self):
        """One writer at a time across every process; readers never wait (saves are atomic renames)."""
        with open(self.lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def write(self, catalog: polib.POFile) -> None:
        """Save `catalog` so that readers only ever see whole files and a catalog that does not compile never
        replaces the working one: the .po goes to a temporary file, is compiled from there (the .mo renamed
        into place), and only then renamed over the working .po. Should that last step fail, the .mo is
        compiled again from the working .po, so the two keep agreeing."""
        po_tmp = None
        compiled = False
        try:
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.po_path.parent, suffix=".po.tmp",
                                             delete=False) as fh:  # fmt: skip
                po_tmp = Path(fh.name)
                fh.write(str(catalog))
                fh.flush()
                os.fsync(fh.fileno())
            compile_catalog(po_tmp, self.mo_path)
            compiled = True
            os.replace(po_tmp, self.po_path)
            po_tmp = None
        except Exception as exc:
            if compiled:
                with contextlib.suppress(Exception):
                    compile_catalog(self.po_path)
            raise CatalogError(f"The catalog could not be saved or compiled, so nothing changed: {exc}") from exc
        finally:
            if po_tmp is not None:
                po_tmp.unlink(missing_ok=True)
        touch_stamp(self.directory)

    def save_entry(self, key: str, original: dict, forms: dict[str, str], fuzzy: bool) -> SaveResult:
        """Change one entry, merging with the file as it is on disk now: other entries saved meanwhile by
        other translators are kept; if this entry itself changed since it was opened, nothing is written and
        the result carries both texts."""
        with self.locked():
            catalog = self.load()
            entry = next((e for e in self.live_entries(catalog) if entry_key(e) == key), None)
            if entry is None:
                return SaveResult(False, ["this message is no longer in the catalog"])
            yours = {"forms": {k: forms.get(k, "") for k in entry_value(entry)["forms"]}, "fuzzy": fuzzy}
            current = entry_value(entry)
            if current != original and current != yours:
                return SaveResult(False, conflict={"theirs": current, "yours": yours})
            set_entry(entry, forms, fuzzy, plural_count(catalog))
            errors = entry_errors(entry)
            if errors:
                return SaveResult(False, errors)
            self.write(catalog)
        return SaveResult(True)

    # -- uploads -------------------------------------------------------------------------------------
    def preview_upload(self, data: bytes) -> dict:
        """Parse and check an uploaded .po; report what it would change. Raises CatalogError if unusable."""
        try:
            text = data.decode("utf-8")
            read_po(io.BytesIO(data), abort_invalid=True)  # Babel's strict syntax check
            uploaded = polib.pofile(text)
        except (UnicodeDecodeError, OSError, ValueError, PoFileError) as exc:
            raise CatalogError(f"The file is not a readable UTF-8 .po catalog: {exc}") from None
        language = (uploaded.metadata.get("Language") or "").replace("-", "_")
        if language.split("_")[0] != self.locale.split("_")[0]:
            raise CatalogError(f"The file is a catalog for {language or 'no language'!r}, not {self.locale!r}.")
        current = {entry_key(e): e for e in self.live_entries()}
        changes, unknown, problems = [], [], []
        for entry in uploaded:
            if entry.obsolete:
                continue
            key = entry_key(entry)
            if key not in current:
                unknown.append(entry.msgid)
                continue
            errors = entry_errors(entry)
            if errors:
                problems.append({"msgid": entry.msgid, "errors": errors})
                continue
            new, old = entry_value(entry), entry_value(current[key])
            if new != old:
                changes.append({"key": key, "msgid": entry.msgid, "old": old, "new": new})
        if not changes and not problems and not unknown and not [e for e in uploaded if not e.obsolete]:
            raise CatalogError("The file contains no messages.")
        return {"changes": changes, "unknown": unknown, "problems": problems}

    def apply_changes(self, changes: list[dict]) -> int:
        """Apply a previewed upload: each change only where the entry still reads as it did then."""
        applied = 0
        with self.locked():
            catalog = self.load()
            by_key = {entry_key(e): e for e in self.live_entries(catalog)}
            for change in changes:
                entry = by_key.get(change["key"])
                if entry is None or entry_value(entry) != change["old"]:
                    continue
                set_entry(entry, change["new"]["forms"], change["new"]["fuzzy"], plural_count(catalog))
                applied += 1
            if applied:
                self.write(catalog)
        return applied

    def keep_preview(self, report: dict, user_id: int) -> str:
        return previews.keep(self.po_path.parent, "upload-", user_id, report["changes"])

    def take_preview(self, token: str, user_id: int) -> list[dict]:
        try:
            return previews.take(self.po_path.parent, "upload-", token, user_id)
        except previews.PreviewGone:
            raise CatalogError("This upload is unknown or was already applied; upload the file again.") from None
        except previews.PreviewForeign:
            raise CatalogError("This upload was prepared by someone else.") from None


def add_locale(code: str, directory: Path) -> str:
    """Start a catalog in `directory` for a new language from messages.pot, with that language's plural rule."""
    code = (code or "").strip().replace("-", "_")
    if not re.fullmatch(r"[a-zA-Z]{2,3}(_[a-zA-Z0-9]{2,8})?", code):
        raise CatalogError("Give a language code such as fr, pt_BR or zh_Hant.")
    try:
        locale = Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        raise CatalogError(f"{code!r} is not a language Babel knows.") from None
    code = str(locale)
    if code in locales(directory):
        raise CatalogError(f"There is already a catalog for {code}.")
    if not (directory / TEMPLATE.name).exists():
        raise CatalogError("There is no messages.pot; run `flask cms i18n extract` first.")
    compile_catalog(init_locale(code, directory))
    touch_stamp(directory)
    return code
