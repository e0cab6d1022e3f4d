"""Catalog rules and services: per-entry merging, conflicts, uploads previewed then applied, new locales,
and the audit entry each change leaves."""

import polib
import pytest
import sqlalchemy as sa
from babel.messages.plurals import get_plural
from babel.support import Translations

from cms import catalogs, i18n
from cms.catalog_editor import CatalogEditor, CatalogError, entry_key, entry_value
from cms.catalogs import CatalogForbidden, apply_changes, save_entry, upload_report
from cms.models import AuditLog
from tests.support.database import fresh


def first_entry(editor: CatalogEditor, msgid: str):
    return next(e for e in editor.live_entries() if e.msgid == msgid)


def test_save_writes_po_and_compiles_mo(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = first_entry(editor, "Latest posts")
    result = save_entry(editor, entry_key(entry), entry_value(entry), {"0": "Lo último"}, False)
    assert result.ok, result
    assert first_entry(CatalogEditor("es", catalog_dir), "Latest posts").msgstr == "Lo último"
    translations = Translations.load(str(catalog_dir), ["es"])
    assert translations.gettext("Latest posts") == "Lo último"


def test_two_translators_saving_different_entries_both_keep_their_work(catalog_dir):
    first, second = CatalogEditor("es", catalog_dir), CatalogEditor("es", catalog_dir)
    a, b = first_entry(first, "Latest posts"), first_entry(second, "Older")
    seen_a, seen_b = entry_value(a), entry_value(b)  # both opened the page before either saved
    assert save_entry(first, entry_key(a), seen_a, {"0": "Texto de A"}, False).ok
    assert save_entry(second, entry_key(b), seen_b, {"0": "Texto de B"}, False).ok
    reread = CatalogEditor("es", catalog_dir)
    assert first_entry(reread, "Latest posts").msgstr == "Texto de A"
    assert first_entry(reread, "Older").msgstr == "Texto de B"


def test_the_same_entry_edited_by_both_gives_the_later_a_conflict(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = first_entry(editor, "Latest posts")
    seen = entry_value(entry)
    assert save_entry(editor, entry_key(entry), seen, {"0": "Primero"}, False).ok
    result = save_entry(editor, entry_key(entry), seen, {"0": "Segundo"}, False)
    assert not result.ok
    assert result.conflict == {"theirs": {"forms": {"0": "Primero"}, "fuzzy": False},
                               "yours": {"forms": {"0": "Segundo"}, "fuzzy": False}}  # fmt: skip
    assert first_entry(CatalogEditor("es", catalog_dir), "Latest posts").msgstr == "Primero"


def test_invalid_translation_is_refused_and_nothing_written(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    before = editor.po_path.read_bytes()
    entry = next(e for e in editor.live_entries() if "%(name)s" in e.msgid and not e.msgid_plural)
    result = save_entry(editor, entry_key(entry), entry_value(entry), {"0": "sin marcador"}, False)
    assert not result.ok and "placeholders" in result.errors[0]
    assert editor.po_path.read_bytes() == before


def test_plural_entries_take_every_form_the_language_needs(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = next(e for e in editor.live_entries() if e.msgid_plural and "%(num)d" in e.msgid)
    result = save_entry(
        editor, entry_key(entry), entry_value(entry), {"0": "%(num)d uno", "1": "%(num)d varios"}, False
    )
    assert result.ok
    saved = next(e for e in CatalogEditor("es", catalog_dir).live_entries() if e.msgid == entry.msgid)
    assert saved.msgstr_plural == {0: "%(num)d uno", 1: "%(num)d varios"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not utf-8", "not a readable UTF-8 .po catalog"),
        (b'this is not a catalog\nmsgid "a"\nmsgstr "b"\n', "not a readable"),
        (b'msgid "a"\nmsgstr "b"\nmsgid "c"\n', "not a readable"),
        (b'msgid ""\nmsgstr ""\n"Language: zh\\n"\n\nmsgid "Latest posts"\nmsgstr "x"\n', "not 'es'"),
    ],
    ids=["binary", "syntax", "missing-msgstr", "wrong-language"],
)
def test_broken_uploads_are_refused(catalog_dir, content, message):
    editor = CatalogEditor("es", catalog_dir)
    with pytest.raises(CatalogError, match=message):
        upload_report(editor, content)


def test_upload_reports_changes_and_applies_only_after_review(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    upload = polib.pofile(str(editor.po_path))
    first_entry_of = {e.msgid: e for e in upload}
    first_entry_of["Latest posts"].msgstr = "Últimas noticias"
    report = upload_report(editor, str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Latest posts"]
    assert first_entry(editor, "Latest posts").msgstr != "Últimas noticias", "nothing applied by the preview"
    assert apply_changes(editor, report["changes"]) == 1
    assert first_entry(CatalogEditor("es", catalog_dir), "Latest posts").msgstr == "Últimas noticias"


def mark_changed_original(editor: CatalogEditor, msgid: str) -> None:
    """What `pybabel update` does when an original changes: fuzzy, with the old original noted (#| msgid)."""
    catalog = editor.load()
    entry = next(e for e in catalog if e.msgid == msgid)
    entry.flags.append("fuzzy")
    entry.previous_msgid = f"{msgid} (before)"
    catalog.save()


def test_confirming_a_fuzzy_entry_drops_the_old_original(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    mark_changed_original(editor, "Latest posts")
    entry = first_entry(editor, "Latest posts")
    assert save_entry(editor, entry_key(entry), entry_value(entry), {"0": "Lo último"}, False).ok
    saved = first_entry(CatalogEditor("es", catalog_dir), "Latest posts")
    assert saved.previous_msgid is None and "fuzzy" not in saved.flags
    assert "#| msgid" not in editor.po_path.read_text()


def test_an_applied_upload_drops_the_old_original_too(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    mark_changed_original(editor, "Latest posts")
    upload = editor.load()
    uploaded = next(e for e in upload if e.msgid == "Latest posts")
    uploaded.flags.remove("fuzzy")
    uploaded.msgstr = "Lo último"
    report = upload_report(editor, str(upload).encode())
    assert apply_changes(editor, report["changes"]) == 1
    saved = first_entry(CatalogEditor("es", catalog_dir), "Latest posts")
    assert saved.msgstr == "Lo último" and saved.previous_msgid is None and "fuzzy" not in saved.flags
    assert "#| msgid" not in editor.po_path.read_text()


def test_upload_with_a_bad_placeholder_is_reported(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    upload = polib.pofile(str(editor.po_path))
    entry = next(e for e in upload if "%(name)s" in e.msgid and not e.msgid_plural)
    entry.msgstr = "sin nombre"
    report = upload_report(editor, str(upload).encode())
    assert report["problems"] and report["problems"][0]["msgid"] == entry.msgid


def test_new_locale_gets_its_plural_rule(catalog_dir):
    assert catalogs.add_locale("ru", catalog_dir) == "ru"
    created = polib.pofile(str(catalog_dir / "ru" / "LC_MESSAGES" / "messages.po"))
    assert created.metadata["Plural-Forms"] == get_plural("ru").plural_forms  # whatever Babel's data says
    assert (catalog_dir / "ru" / "LC_MESSAGES" / "messages.mo").exists()
    with pytest.raises(CatalogError, match="already"):
        catalogs.add_locale("ru", catalog_dir)
    with pytest.raises(CatalogError):
        catalogs.add_locale("../../etc", catalog_dir)
    with pytest.raises(CatalogError, match="not a language"):
        catalogs.add_locale("qq", catalog_dir)


def test_extraction_finds_strings_in_cms_and_admin_views(tmp_path):
    template = polib.pofile(str(i18n.extract(tmp_path / "messages.pot")))
    msgids = {e.msgid for e in template}
    assert "Latest posts" in msgids  # cms/templates
    assert "Hide as spam" in msgids  # admin_views/comments.py
    assert "Post title" in msgids  # cms/exports.py


def test_extracted_references_are_relative_to_the_project_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # wherever it runs from
    output = i18n.extract(tmp_path / "messages.pot")
    sources = {path for e in polib.pofile(str(output)) for path, _ in e.occurrences}
    assert {path.split("/")[0] for path in sources} == {"cms", "admin_views"}
    assert "#: /" not in output.read_text() and str(i18n.ROOT) not in output.read_text()
    assert all((i18n.ROOT / path).is_file() for path in sources)


@pytest.mark.parametrize("path", ["messages.pot", "es/LC_MESSAGES/messages.po", "zh/LC_MESSAGES/messages.po"])
def test_committed_catalogs_have_relative_references(path):
    catalog = polib.pofile(str(i18n.TRANSLATIONS_DIR / path))
    assert all(not source.startswith("/") for e in catalog for source, _ in e.occurrences)


# -- services: policy, change, audit ---------------------------------------------------------------
@pytest.fixture
def served_catalogs(app, catalog_dir, monkeypatch):
    """The app edits a private copy of the catalogs (its BABEL_TRANSLATION_DIRECTORIES)."""
    monkeypatch.setitem(app.config, "BABEL_TRANSLATION_DIRECTORIES", str(catalog_dir))
    return catalog_dir


def catalog_audit() -> list[tuple[str, str]]:
    rows = fresh(sa.select(AuditLog).where(AuditLog.object_type == "Catalog").order_by(AuditLog.id)).scalars()
    return [(row.object_id, row.summary) for row in rows]


def test_a_saved_translation_is_audited(served_catalogs, users):
    entry = first_entry(CatalogEditor("es", served_catalogs), "Latest posts")
    key = entry_key(entry)
    result = catalogs.save_translation(users["translator"], "es", key, entry_value(entry), {"0": "Lo último"}, False)
    assert result.ok
    assert catalog_audit() == [("es", f"entry {key} saved")]


def test_a_refused_translation_writes_nothing_and_audits_nothing(served_catalogs, users):
    editor = CatalogEditor("es", served_catalogs)
    before = editor.po_path.read_bytes()
    entry = next(e for e in editor.live_entries() if "%(name)s" in e.msgid and not e.msgid_plural)
    key, seen = entry_key(entry), entry_value(entry)
    assert not catalogs.save_translation(users["translator"], "es", key, seen, {"0": "sin marcador"}, False).ok
    assert editor.po_path.read_bytes() == before and catalog_audit() == []


@pytest.mark.parametrize(
    ("role", "may_edit", "may_add"),
    [("reader", False, False), ("author", False, False), ("editor", False, False), ("translator", True, False),
     ("administrator", True, True)],
)  # fmt: skip
def test_who_may_change_the_catalogs(served_catalogs, users, role, may_edit, may_add):
    entry = first_entry(CatalogEditor("es", served_catalogs), "Older")

    def save():
        catalogs.save_translation(users[role], "es", entry_key(entry), entry_value(entry), {"0": "x"}, False)

    def add():
        catalogs.add_language(users[role], "fr")

    for action, allowed in ((save, may_edit), (add, may_add)):
        if allowed:
            action()
        else:
            with pytest.raises(CatalogForbidden):
                action()
    assert (served_catalogs / "fr").exists() == may_add


def test_an_upload_is_applied_once_by_the_translator_who_previewed_it(served_catalogs, users):
    translator, admin = users["translator"], users["administrator"]
    upload = CatalogEditor("es", served_catalogs).load()
    next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos"
    report, token = catalogs.preview_upload(translator, "es", str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Newer"] and token
    assert catalog_audit() == [], "a preview changes nothing"
    with pytest.raises(CatalogError, match="someone else"):
        catalogs.apply_upload(admin, "es", token)
    assert catalogs.apply_upload(translator, "es", token) == 1
    assert first_entry(CatalogEditor("es", served_catalogs), "Newer").msgstr == "Más nuevos"
    assert catalog_audit() == [("es", "upload applied: 1 entries")]
    with pytest.raises(CatalogError, match="already applied"):
        catalogs.apply_upload(translator, "es", token)


def test_a_new_language_is_audited(served_catalogs, users):
    assert catalogs.add_language(users["administrator"], " pt-BR ") == "pt_BR"
    assert (served_catalogs / "pt_BR" / "LC_MESSAGES" / "messages.mo").exists()
    assert catalog_audit() == [("pt_BR", "catalog for pt_BR created")]
