"""The translator workspace's rules: saving one translation (merged per entry with other translators'
saves), uploads previewed then applied, new languages. Each service checks the catalog policy, writes
through CatalogEditor (cms/catalog_editor.py), records the audit entry and commits; the checks on each
translation are cms/translation_checks.py's."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import polib
from babel import Locale, UnknownLocaleError
from babel.messages.pofile import PoFileError, read_po
from flask_babel import lazy_gettext as _l

from cms import audit, page_cache, policies, previews
from cms.catalog_editor import (
    CatalogEditor,
    CatalogError,
    entry_key,
    entry_value,
    locales,
    plural_count,
    set_entry,
)
from cms.extensions import db
from cms.i18n import TEMPLATE, compile_catalog, init_locale, touch_stamp, translations_dir
from cms.models import User
from cms.translation_checks import entry_errors

UPLOAD_PREFIX = "upload-"


class CatalogForbidden(CatalogError):
    """The user may not make this change to the catalogs."""


@dataclass
class SaveResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    conflict: dict | None = None  # {"theirs": …, "yours": …} when another translator saved first


def editor_for(locale: str) -> CatalogEditor:
    """The catalog of `locale` among those the current app serves."""
    return CatalogEditor(locale, translations_dir())


def overview() -> list[dict]:
    """Counts for every catalog the current app serves."""
    directory = translations_dir()
    return [CatalogEditor(code, directory).stats() for code in locales(directory)]


# -- the rules, on one catalog ---------------------------------------------------------------------
def save_entry(editor: CatalogEditor, key: str, original: dict, forms: dict[str, str], fuzzy: bool) -> SaveResult:
    """Change one entry, merging with the file as it is on disk now: other entries saved meanwhile by
    other translators are kept; if this entry itself changed since it was opened, nothing is written and
    the result carries both texts."""
    with editor.locked():
        catalog = editor.load()
        entry = next((e for e in editor.live_entries(catalog) if entry_key(e) == key), None)
        if entry is None:
            return SaveResult(False, [_l("this message is no longer in the catalog")])
        yours = {"forms": {k: forms.get(k, "") for k in entry_value(entry)["forms"]}, "fuzzy": fuzzy}
        current = entry_value(entry)
        if current != original and current != yours:
            return SaveResult(False, conflict={"theirs": current, "yours": yours})
        set_entry(entry, forms, fuzzy, plural_count(catalog))
        errors = entry_errors(entry)
        if errors:
            return SaveResult(False, errors)
        editor.write(catalog)
    return SaveResult(True)


def upload_report(editor: CatalogEditor, data: bytes) -> dict:
    """Parse and check an uploaded .po; report what it would change. Raises CatalogError if unusable."""
    try:
        text = data.decode("utf-8")
        read_po(io.BytesIO(data), abort_invalid=True)  # Babel's strict syntax check
        uploaded = polib.pofile(text)
    except (UnicodeDecodeError, OSError, ValueError, PoFileError) as exc:
        raise CatalogError(_l("The file is not a readable UTF-8 .po catalog: %(error)s", error=str(exc))) from None
    language = (uploaded.metadata.get("Language") or "").replace("-", "_")
    if language.split("_")[0] != editor.locale.split("_")[0]:
        raise CatalogError(
            _l(
                "The file is a catalog for '%(language)s', not '%(locale)s'.",
                language=language or _l("no language"),
                locale=editor.locale,
            )
        )
    current = {entry_key(e): e for e in editor.live_entries()}
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
        raise CatalogError(_l("The file contains no messages."))
    return {"changes": changes, "unknown": unknown, "problems": problems}


def apply_changes(editor: CatalogEditor, changes: list[dict]) -> int:
    """Apply a previewed upload: each change only where the entry still reads as it did then."""
    applied = 0
    with editor.locked():
        catalog = editor.load()
        by_key = {entry_key(e): e for e in editor.live_entries(catalog)}
        for change in changes:
            entry = by_key.get(change["key"])
            if entry is None or entry_value(entry) != change["old"]:
                continue
            set_entry(entry, change["new"]["forms"], change["new"]["fuzzy"], plural_count(catalog))
            applied += 1
        if applied:
            editor.write(catalog)
    return applied


def add_locale(code: str, directory: Path) -> str:
    """Start a catalog in `directory` for a new language from messages.pot, with that language's plural rule."""
    code = (code or "").strip().replace("-", "_")
    if not re.fullmatch(r"[a-zA-Z]{2,3}(_[a-zA-Z0-9]{2,8})?", code):
        raise CatalogError(_l("Give a language code such as fr, pt_BR or zh_Hant."))
    try:
        locale = Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        raise CatalogError(_l("'%(code)s' is not a language Babel knows.", code=code)) from None
    code = str(locale)
    if code in locales(directory):
        raise CatalogError(_l("There is already a catalog for %(code)s.", code=code))
    if not (directory / TEMPLATE.name).exists():
        raise CatalogError(_l("There is no messages.pot; run `flask cms i18n extract` first."))
    compile_catalog(init_locale(code, directory))
    touch_stamp(directory)
    return code


# -- services: policy, change, audit, commit -------------------------------------------------------
def _may_edit(user: User) -> None:
    if not policies.catalogs.may_edit(user):
        raise CatalogForbidden(_l("You may not change the translations."))


def _changed(locale: str, summary: str) -> None:
    """Audit a catalog change and let cached public pages pick up the new strings, in one commit."""
    audit.record("translate", "Catalog", locale, summary=summary[:255])
    page_cache.bump()
    db.session.commit()


def save_translation(
    user: User, locale: str, key: str, original: dict, forms: dict[str, str], fuzzy: bool
) -> SaveResult:
    """A translator's save of one entry (see `save_entry`); audited when written."""
    _may_edit(user)
    result = save_entry(editor_for(locale), key, original, forms, fuzzy)
    if result.ok:
        _changed(locale, f"entry {key} saved")
    return result


def preview_upload(user: User, locale: str, data: bytes) -> tuple[dict, str | None]:
    """What an uploaded .po would change, and the token that applies it: None when nothing would change
    or any entry has a problem (then the whole file must be fixed first)."""
    _may_edit(user)
    editor = editor_for(locale)
    report = upload_report(editor, data)
    if not report["changes"] or report["problems"]:
        return report, None
    return report, previews.keep(editor.po_path.parent, UPLOAD_PREFIX, user.id, report["changes"])


def apply_upload(user: User, locale: str, token: str) -> int:
    """Apply the upload `user` previewed as `token`; the number of entries changed."""
    _may_edit(user)
    editor = editor_for(locale)
    try:
        changes = previews.take(editor.po_path.parent, UPLOAD_PREFIX, token, user.id)
    except previews.PreviewGone:
        raise CatalogError(_l("This upload is unknown or was already applied; upload the file again.")) from None
    except previews.PreviewForeign:
        raise CatalogError(_l("This upload was prepared by someone else.")) from None
    applied = apply_changes(editor, changes)
    _changed(locale, f"upload applied: {applied} entries")
    return applied


def add_language(user: User, code: str) -> str:
    """Start a catalog for a new language (administrators only); its normalised code."""
    if not policies.catalogs.may_add_language(user):
        raise CatalogForbidden(_l("Only administrators add languages."))
    code = add_locale(code, translations_dir())
    _changed(code, f"catalog for {code} created")
    return code
