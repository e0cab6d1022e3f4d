"""The translator workspace's rules: saving one translation (merged per entry with other translators'
saves), uploads previewed then applied, new languages, and a .po's export and import for developers. What
translators change is kept in the database (cms/catalog_store.py), so every app instance serves it and a
deploy keeps it. Each service checks the catalog policy, writes, records the audit entry, commits, and then
rebuilds this instance's catalogs (the others follow within a second); the checks on each translation are
cms/translation_checks.py's."""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass, field

import polib
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.messages.pofile import PoFileError, read_po
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from cms import audit, catalog_store, page_cache, policies
from cms.catalog_editor import (
    CatalogEditor,
    CatalogError,
    check_compiles,
    entry_key,
    entry_value,
    locales,
    plural_count,
    set_entry,
)
from cms.extensions import db
from cms.i18n import TEMPLATE, source_dir, translations_dir
from cms.models import User
from cms.translation_checks import entry_errors

LIKELY_SUBTAGS = get_global("likely_subtags")  # zh → zh_Hans_CN: the script a code without one means

UPLOAD_SALT = "cms.catalogs.upload"


class CatalogForbidden(CatalogError):
    """The user may not make this change to the catalogs."""


@dataclass
class SaveResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    conflict: dict | None = None  # {"theirs": …, "yours": …} when another translator saved first


def editor_for(locale: str) -> CatalogEditor:
    """The catalog of `locale` as this instance serves it (built by cms.catalog_store)."""
    return CatalogEditor(locale, translations_dir())


def overview() -> list[dict]:
    """Counts for every catalog this instance serves."""
    directory = translations_dir()
    return [CatalogEditor(code, directory).stats() for code in locales(directory)]


def current_catalog(locale: str) -> polib.POFile:
    """`locale`'s catalog as it is in the database now (committed, with every translator's save on top)."""
    if locale not in catalog_store.known_locales():
        raise CatalogError(_l("There is no catalog for '%(locale)s'.", locale=locale))
    return catalog_store.merged_catalog(locale)


def live_entries(catalog: polib.POFile) -> dict[str, polib.POEntry]:
    return {entry_key(e): e for e in catalog if not e.obsolete}


# -- the rules, on one catalog; each leaves its change in the session for the service to commit --------
def save_entry(
    locale: str, key: str, original: dict, forms: dict[str, str], fuzzy: bool, user: User | None = None
) -> SaveResult:
    """Change one entry, merging with what other translators saved: their entries are kept; if this entry itself
    changed since it was opened, nothing is written and the result carries both texts."""
    catalog_store.claim_revision()
    catalog = current_catalog(locale)
    entry = live_entries(catalog).get(key)
    if entry is None:
        return SaveResult(False, [_l("this message is no longer in the catalog")])
    current = entry_value(entry)
    yours = {"forms": {k: forms.get(k, "") for k in current["forms"]}, "fuzzy": fuzzy}
    if current != original and current != yours:
        return SaveResult(False, conflict={"theirs": current, "yours": yours})
    set_entry(entry, forms, fuzzy, plural_count(catalog))
    errors = entry_errors(entry)
    if errors:
        return SaveResult(False, errors)
    check_compiles(catalog, locale)
    catalog_store.store(locale, entry, user)
    return SaveResult(True)


def upload_report(locale: str, data: bytes) -> dict:
    """Parse and check an uploaded .po; report what it would change. Raises CatalogError if unusable."""
    try:
        text = data.decode("utf-8-sig")  # an editor's byte-order mark (Notepad's) is not part of the catalog
        check_po_lines(text)
        read_po(io.BytesIO(text.encode("utf-8")), abort_invalid=True)  # Babel's strict syntax check
        uploaded = polib.pofile(text)
    except (UnicodeDecodeError, OSError, ValueError, LookupError, PoFileError) as exc:  # LookupError: its charset
        raise CatalogError(_l("The file is not a readable UTF-8 .po catalog: %(error)s", error=str(exc))) from None
    language = (uploaded.metadata.get("Language") or "").replace("-", "_")
    if not written_alike(language, locale):
        raise CatalogError(
            _l(
                "The file is a catalog for '%(language)s', not '%(locale)s'.",
                language=language or _l("no language"),
                locale=locale,
            )
        )
    catalog = current_catalog(locale)
    current = live_entries(catalog)
    forms_needed = plural_count(catalog)
    file_forms = plural_count(uploaded, None)
    if file_forms is not None and file_forms != forms_needed:  # each plural entry would lose forms, or gain some
        raise CatalogError(
            _l(
                "The file's Plural-Forms header says nplurals=%(theirs)s, where %(locale)s has %(ours)s plural "
                "forms. Start from the catalog's own download.",
                theirs=file_forms,
                ours=forms_needed,
                locale=locale,
            )
        )
    changes, unknown, problems = [], [], []
    seen: set[str] = set()
    for entry in uploaded:
        if entry.obsolete:
            continue
        key = entry_key(entry)
        if key in seen:  # msgfmt refuses such a file; polib reads both, and the second was dropped unsaid
            problems.append({"msgid": entry.msgid, "errors": ["the file holds this message more than once"]})
            continue
        seen.add(key)
        if key not in current:
            unknown.append(entry.msgid)
            continue
        errors = upload_errors(entry, current[key], forms_needed)
        if errors:
            problems.append({"msgid": entry.msgid, "errors": errors})
            continue
        new, old = entry_value(entry), entry_value(current[key])
        if new != old:
            changes.append({"key": key, "msgid": entry.msgid, "old": old, "new": new})
    if not changes and not problems and not unknown and not [e for e in uploaded if not e.obsolete]:
        raise CatalogError(_l("The file contains no messages."))
    return {"changes": changes, "unknown": unknown, "problems": problems}


def written_alike(language: str, locale: str) -> bool:
    """Whether a file whose Language header is `language` is a catalog for `locale`: the same language in the same
    script, the script being Babel's likely one where the code names none (zh and zh_CN are Simplified Chinese,
    zh_TW and zh_Hant_TW Traditional; pt_BR is Portuguese as pt is)."""
    try:
        return writing(language) == writing(locale)
    except (ValueError, UnknownLocaleError):
        return False


def writing(code: str) -> tuple[str, str | None]:
    """A language code's language and script."""
    parsed = Locale.parse(code)
    if parsed.script:
        return parsed.language, parsed.script
    likely = LIKELY_SUBTAGS.get(str(parsed)) or LIKELY_SUBTAGS.get(parsed.language)
    return parsed.language, Locale.parse(likely).script if likely else None


# Characters Python's str.splitlines() breaks a line at, beyond "\n" and "\r": polib splits a catalog's text there.
LINE_BREAKING = re.compile("[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# A catalog line: blank, a comment (#, #~ obsolete, #| previous), or a quoted string after its keyword or alone, with
# the escapes polib writes and reads. Babel's check and polib read a string missing its closing quote, or holding
# another escape (\q), as some other text, and polib took "msgstr[0]" after a singular msgid as no translation.
PO_STRING = r'"(?:[^"\\]|\\[\\"ntr])*"'
PO_LINE = re.compile(rf"\s*(?:#.*|(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?{PO_STRING}\s*|)")


def check_po_lines(text: str) -> None:
    """Refuse (CatalogError) an uploaded catalog with a line polib and Babel would read as other text than written."""
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        breaking = LINE_BREAKING.search(line)
        if breaking:
            raise CatalogError(
                _l(
                    "Line %(line)s holds the character %(character)s, which breaks a catalog's lines: remove it.",
                    line=number,
                    character=f"U+{ord(breaking.group(0)):04X}",
                )
            )
        if not PO_LINE.fullmatch(line):
            raise CatalogError(
                _l(
                    "Line %(line)s is not a catalog line (a keyword and a quoted text, or a comment): %(text)s",
                    line=number,
                    text=line[:80],
                )
            )


def upload_errors(uploaded: polib.POEntry, entry: polib.POEntry, nplurals: int) -> list[str]:
    """Problems with an uploaded entry's translation as the catalog's `entry` would hold it: checked against the
    catalog's originals, not the file's. An entry is known by its context and msgid alone, so a file could give it
    another plural original (with placeholders of its own) or none, which the checks of the file's entry passed, and
    pages formatting the catalog's original then failed."""
    if not uploaded.msgid_plural and uploaded.msgstr_plural:
        return ["a translation of a singular original is msgstr, not msgstr[0]"]
    if (uploaded.msgid_plural or None) != (entry.msgid_plural or None):
        theirs, ours = (repr(e.msgid_plural) if e.msgid_plural else "none" for e in (uploaded, entry))
        return [f"the plural original must be the catalog's ({ours}), not {theirs}"]
    if uploaded.msgid_plural and sorted(uploaded.msgstr_plural) != list(range(nplurals)):
        # set_entry would blank the forms the file leaves out (or drop those it adds): a translation lost
        return [f"a plural translation needs msgstr[0] to msgstr[{nplurals - 1}], no more and no fewer"]
    checked = copy.deepcopy(entry)
    value = entry_value(uploaded)
    set_entry(checked, value["forms"], value["fuzzy"], nplurals)
    return entry_errors(checked)


def apply_changes(locale: str, changes: list[dict], user: User | None = None) -> int:
    """Apply a previewed upload: each change only where the entry still reads as it did then. Refuses when
    every entry already reads as the upload would make it (it was applied)."""
    catalog_store.claim_revision()
    catalog = current_catalog(locale)
    entries = live_entries(catalog)
    changed, already = [], 0
    for change in changes:
        entry = entries.get(change["key"])
        if entry is None:
            continue
        value = entry_value(entry)
        if value == change["new"]:
            already += 1
        elif value == change["old"]:
            set_entry(entry, change["new"]["forms"], change["new"]["fuzzy"], plural_count(catalog))
            changed.append(entry)
    if changes and already == len(changes):
        raise CatalogError(_l("This upload is unknown or was already applied; upload the file again."))
    if changed:
        check_compiles(catalog, locale)
    for entry in changed:
        catalog_store.store(locale, entry, user)
    return len(changed)


def language_code(code: str) -> str:
    """A language code as Babel names it (fr, pt_BR, zh_Hant), or CatalogError."""
    code = (code or "").strip().replace("-", "_")
    if not re.fullmatch(r"[a-zA-Z]{2,3}(_[a-zA-Z0-9]{2,8})?", code):
        raise CatalogError(_l("Give a language code such as fr, pt_BR or zh_Hant."))
    try:
        return str(Locale.parse(code))
    except (ValueError, UnknownLocaleError):
        raise CatalogError(_l("'%(code)s' is not a language Babel knows.", code=code)) from None


def add_locale(code: str, user: User | None = None) -> str:
    """Start a catalog for a new language: served from messages.pot with that language's plural rule."""
    code = language_code(code)
    catalog_store.claim_revision()
    if code in catalog_store.known_locales():
        raise CatalogError(_l("There is already a catalog for %(code)s.", code=code))
    if not (source_dir() / TEMPLATE.name).exists():
        raise CatalogError(_l("There is no messages.pot; run `flask cms i18n extract` first."))
    catalog_store.store_new_language(code, user)
    return code


# -- services: policy, change, audit, commit -------------------------------------------------------
def _may_edit(user: User) -> None:
    if not policies.catalogs.may_edit(user):
        raise CatalogForbidden(_l("You may not change the translations."))


def _changed(locale: str, summary: str) -> None:
    """Audit a catalog change and let cached public pages pick up the new strings, in one commit; then serve
    it from this instance at once."""
    audit.record("translate", "Catalog", locale, summary=summary[:255])
    page_cache.bump()
    db.session.commit()
    catalog_store.refresh(current_app)


def save_translation(
    user: User, locale: str, key: str, original: dict, forms: dict[str, str], fuzzy: bool
) -> SaveResult:
    """A translator's save of one entry (see `save_entry`); audited when written."""
    _may_edit(user)
    try:
        result = save_entry(locale, key, original, forms, fuzzy, user)
    except Exception:
        db.session.rollback()
        raise
    if not result.ok:
        db.session.rollback()
        return result
    _changed(locale, f"entry {key} saved")
    return result


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=UPLOAD_SALT)  # type: ignore[arg-type]


def preview_upload(user: User, locale: str, data: bytes) -> tuple[dict, str | None]:
    """What an uploaded .po would change, and the token that applies it: None when nothing would change
    or any entry has a problem (then the whole file must be fixed first). The token carries the changes,
    signed and dated, so any instance can apply them for CATALOG_PREVIEW_TTL seconds; nothing is kept on the
    server, so an upload never applied leaves nothing behind."""
    _may_edit(user)
    report = upload_report(locale, data)
    if not report["changes"] or report["problems"]:
        return report, None
    return report, _serializer().dumps({"user": user.id, "locale": locale, "changes": report["changes"]})


def apply_upload(user: User, locale: str, token: str) -> int:
    """Apply the upload `user` previewed as `token`; the number of entries changed. A preview older than
    CATALOG_PREVIEW_TTL seconds is refused: its file must be uploaded (and checked) again."""
    _may_edit(user)
    try:
        kept = _serializer().loads(token, max_age=current_app.config["CATALOG_PREVIEW_TTL"])
    except SignatureExpired:
        raise CatalogError(_l("This preview has expired; upload the file again.")) from None
    except BadData:
        kept = None
    if not isinstance(kept, dict) or kept.get("locale") != locale:
        raise CatalogError(_l("This upload is unknown or was already applied; upload the file again."))
    if kept["user"] != user.id:
        raise CatalogError(_l("This upload was prepared by someone else."))
    try:
        applied = apply_changes(locale, kept["changes"], user)
    except Exception:
        db.session.rollback()
        raise
    _changed(locale, f"upload applied: {applied} entries")
    return applied


def add_language(user: User, code: str) -> str:
    """Start a catalog for a new language (administrators only); its normalised code."""
    if not policies.catalogs.may_add_language(user):
        raise CatalogForbidden(_l("Only administrators add languages."))
    try:
        code = add_locale(code, user)
    except Exception:
        db.session.rollback()
        raise
    _changed(code, f"catalog for {code} created")
    return code


# -- the developers' side: `flask cms i18n export-po` and `import-po` -------------------------------
def export_po(locale: str) -> str:
    """`locale`'s catalog with every translator's save, as a .po (the workspace's download, and what a
    developer commits to bring translators' work into the checkout)."""
    return str(current_catalog(locale))


def import_po(locale: str, data: bytes) -> tuple[dict, int]:
    """Load a .po's translations into the database, with an upload's checks: nothing is applied while any
    entry has a problem. The report and how many entries changed."""
    report = upload_report(locale, data)
    if report["problems"] or not report["changes"]:
        return report, 0
    try:
        applied = apply_changes(locale, report["changes"])
    except Exception:
        db.session.rollback()
        raise
    _changed(locale, f".po imported: {applied} entries")
    return report, applied
