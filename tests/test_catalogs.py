"""Catalog rules: atomic saves, per-entry merging, uploads, new locales."""

import os
import shutil
from pathlib import Path

import polib
import pytest
from babel.messages.plurals import get_plural
from babel.support import Translations

from cms import catalogs, i18n
from cms.catalogs import CatalogEditor, CatalogError, entry_key, entry_value

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def catalog_dir(tmp_path):
    """A copy of the real translations folder, so tests never touch the working catalogs."""
    target = tmp_path / "translations"
    shutil.copytree(ROOT / "translations", target, ignore=shutil.ignore_patterns("*.lock", "upload-*"))
    return target


def first_entry(editor: CatalogEditor, msgid: str):
    return next(e for e in editor.live_entries() if e.msgid == msgid)


def test_save_writes_po_and_compiles_mo(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = first_entry(editor, "Latest posts")
    result = editor.save_entry(entry_key(entry), entry_value(entry), {"0": "Lo último"}, False)
    assert result.ok, result
    assert first_entry(CatalogEditor("es", catalog_dir), "Latest posts").msgstr == "Lo último"
    translations = Translations.load(str(catalog_dir), ["es"])
    assert translations.gettext("Latest posts") == "Lo último"


def test_fuzzy_entries_are_not_served(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = first_entry(editor, "Latest posts")
    editor.save_entry(entry_key(entry), entry_value(entry), {"0": "Quizá"}, True)
    assert Translations.load(str(catalog_dir), ["es"]).gettext("Latest posts") == "Latest posts"


def test_a_crash_mid_write_leaves_the_old_files(catalog_dir, monkeypatch):
    editor = CatalogEditor("es", catalog_dir)
    before_po, before_mo = editor.po_path.read_bytes(), editor.mo_path.read_bytes()
    entry = first_entry(editor, "Latest posts")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(i18n, "write_mo", crash)
    with pytest.raises(CatalogError, match="nothing changed"):
        editor.save_entry(entry_key(entry), entry_value(entry), {"0": "Nunca guardado"}, False)
    assert editor.po_path.read_bytes() == before_po and editor.mo_path.read_bytes() == before_mo
    assert not list(editor.po_path.parent.glob("*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize("failing", [".mo", ".po"])
def test_a_failed_rename_leaves_a_working_po_and_a_matching_mo(catalog_dir, monkeypatch, failing):
    editor = CatalogEditor("es", catalog_dir)
    before_po = editor.po_path.read_bytes()
    entry = first_entry(editor, "Latest posts")
    real_replace = os.replace

    def replace_or_die(src, dst):
        if str(dst).endswith(failing):
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_or_die)
    with pytest.raises(CatalogError):
        editor.save_entry(entry_key(entry), entry_value(entry), {"0": "Lo último"}, False)
    monkeypatch.undo()
    assert editor.po_path.read_bytes() == before_po
    assert Translations.load(str(catalog_dir), ["es"]).gettext("Latest posts") == entry.msgstr
    assert not list(editor.po_path.parent.glob("*.tmp"))


def test_two_translators_saving_different_entries_both_keep_their_work(catalog_dir):
    first, second = CatalogEditor("es", catalog_dir), CatalogEditor("es", catalog_dir)
    a, b = first_entry(first, "Latest posts"), first_entry(second, "Older")
    seen_a, seen_b = entry_value(a), entry_value(b)  # both opened the page before either saved
    assert first.save_entry(entry_key(a), seen_a, {"0": "Texto de A"}, False).ok
    assert second.save_entry(entry_key(b), seen_b, {"0": "Texto de B"}, False).ok
    reread = CatalogEditor("es", catalog_dir)
    assert first_entry(reread, "Latest posts").msgstr == "Texto de A"
    assert first_entry(reread, "Older").msgstr == "Texto de B"


def test_the_same_entry_edited_by_both_gives_the_later_a_conflict(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = first_entry(editor, "Latest posts")
    seen = entry_value(entry)
    assert editor.save_entry(entry_key(entry), seen, {"0": "Primero"}, False).ok
    result = editor.save_entry(entry_key(entry), seen, {"0": "Segundo"}, False)
    assert not result.ok
    assert result.conflict == {"theirs": {"forms": {"0": "Primero"}, "fuzzy": False},
                               "yours": {"forms": {"0": "Segundo"}, "fuzzy": False}}  # fmt: skip
    assert first_entry(CatalogEditor("es", catalog_dir), "Latest posts").msgstr == "Primero"


def test_invalid_translation_is_refused_and_nothing_written(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    before = editor.po_path.read_bytes()
    entry = next(e for e in editor.live_entries() if "%(name)s" in e.msgid and not e.msgid_plural)
    result = editor.save_entry(entry_key(entry), entry_value(entry), {"0": "sin marcador"}, False)
    assert not result.ok and "placeholders" in result.errors[0]
    assert editor.po_path.read_bytes() == before


def test_plural_entries_take_every_form_the_language_needs(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    entry = next(e for e in editor.live_entries() if e.msgid_plural and "%(num)d" in e.msgid)
    result = editor.save_entry(entry_key(entry), entry_value(entry), {"0": "%(num)d uno", "1": "%(num)d varios"}, False)
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
        editor.preview_upload(content)


def test_upload_reports_changes_and_applies_only_after_review(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    upload = polib.pofile(str(editor.po_path))
    first_entry_of = {e.msgid: e for e in upload}
    first_entry_of["Latest posts"].msgstr = "Últimas noticias"
    report = editor.preview_upload(str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Latest posts"]
    assert first_entry(editor, "Latest posts").msgstr != "Últimas noticias", "nothing applied by the preview"
    assert editor.apply_changes(report["changes"]) == 1
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
    assert editor.save_entry(entry_key(entry), entry_value(entry), {"0": "Lo último"}, False).ok
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
    report = editor.preview_upload(str(upload).encode())
    assert editor.apply_changes(report["changes"]) == 1
    saved = first_entry(CatalogEditor("es", catalog_dir), "Latest posts")
    assert saved.msgstr == "Lo último" and saved.previous_msgid is None and "fuzzy" not in saved.flags
    assert "#| msgid" not in editor.po_path.read_text()


def test_upload_with_a_bad_placeholder_is_reported(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    upload = polib.pofile(str(editor.po_path))
    entry = next(e for e in upload if "%(name)s" in e.msgid and not e.msgid_plural)
    entry.msgstr = "sin nombre"
    report = editor.preview_upload(str(upload).encode())
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


def test_extraction_finds_strings_in_cms_and_admin_views(tmp_path, monkeypatch):
    from cms import i18n

    monkeypatch.setattr(i18n, "TEMPLATE", tmp_path / "messages.pot")
    template = polib.pofile(str(i18n.extract()))
    msgids = {e.msgid for e in template}
    assert "Latest posts" in msgids  # cms/templates
    assert "Hide as spam" in msgids  # admin_views/comments.py
    assert "Post title" in msgids  # cms/exports.py
    sources = {path for e in template for path, _ in e.occurrences}
    assert any(p.startswith("cms/") or "/cms/" in p for p in sources)
    assert any("admin_views/" in p for p in sources)
