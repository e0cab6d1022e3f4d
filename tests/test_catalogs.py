"""Catalog rules and services: per-entry merging, conflicts, uploads previewed then applied, new locales,
and the audit entry each change leaves. What translators save is kept in the database; the app serves it from
the catalogs it builds in its own folder."""

import json
from datetime import UTC

import polib
import pytest
import sqlalchemy as sa
import time_machine
from babel.messages.plurals import get_plural

from cms import catalog_store, catalogs, i18n
from cms.catalog_editor import CatalogEditor, CatalogError, entry_key, entry_value
from cms.catalogs import CatalogForbidden, upload_report
from cms.models import AuditLog, CatalogEntry, utcnow
from tests.support.catalogs import built_entry, served_text, serving
from tests.support.database import fresh


@pytest.fixture
def served(app, catalog_dir, tmp_path):
    """The app serves catalogs built in a private folder from a private copy of the committed ones (which a
    test may change, as a developer's commit would); yields the build folder."""
    with serving(app, catalog_dir, tmp_path / "served") as build:
        yield build


def first_entry(directory, msgid: str):
    return built_entry(directory, "es", msgid)


def save(user, msgid: str, forms: dict, directory, fuzzy: bool = False, seen: dict | None = None):
    """A translator's save of the es entry `msgid`, opened when it read as `seen` (as built now by default)."""
    entry = first_entry(directory, msgid)
    return catalogs.save_translation(user, "es", entry_key(entry), seen or entry_value(entry), forms, fuzzy)


def stored() -> dict[str, dict]:
    rows = fresh(sa.select(CatalogEntry).where(CatalogEntry.locale == "es")).scalars()
    return {row.msgid: {"forms": json.loads(row.forms), "fuzzy": row.fuzzy} for row in rows}


def test_a_save_is_kept_in_the_database_and_served_compiled(served, users):
    result = save(users["translator"], "Latest posts", {"0": "Lo último"}, served)
    assert result.ok, result
    assert stored() == {"Latest posts": {"forms": {"0": "Lo último"}, "fuzzy": False}}
    assert first_entry(served, "Latest posts").msgstr == "Lo último"
    assert served_text(served, "es", "Latest posts") == "Lo último"


def test_two_translators_saving_different_entries_both_keep_their_work(served, users):
    a, b = first_entry(served, "Latest posts"), first_entry(served, "Older")
    seen_a, seen_b = entry_value(a), entry_value(b)  # both opened the page before either saved
    assert save(users["translator"], "Latest posts", {"0": "Texto de A"}, served, seen=seen_a).ok
    assert save(users["administrator"], "Older", {"0": "Texto de B"}, served, seen=seen_b).ok
    assert first_entry(served, "Latest posts").msgstr == "Texto de A"
    assert first_entry(served, "Older").msgstr == "Texto de B"


def test_the_same_entry_edited_by_both_gives_the_later_a_conflict(served, users):
    seen = entry_value(first_entry(served, "Latest posts"))
    assert save(users["translator"], "Latest posts", {"0": "Primero"}, served, seen=seen).ok
    result = save(users["administrator"], "Latest posts", {"0": "Segundo"}, served, seen=seen)
    assert not result.ok
    assert result.conflict == {"theirs": {"forms": {"0": "Primero"}, "fuzzy": False},
                               "yours": {"forms": {"0": "Segundo"}, "fuzzy": False}}  # fmt: skip
    assert first_entry(served, "Latest posts").msgstr == "Primero"
    assert stored()["Latest posts"]["forms"] == {"0": "Primero"}


def test_the_conflict_is_checked_against_the_database_not_this_instances_build(served, users):
    """Another instance saved; this one has not rebuilt yet: its page still shows the old text."""
    entry = first_entry(served, "Latest posts")
    seen = entry_value(entry)
    assert save(users["translator"], "Latest posts", {"0": "Desde la otra instancia"}, served).ok
    (served / "es" / "LC_MESSAGES" / "messages.po").write_text(str(CatalogEditor("es", i18n.source_dir()).load()))
    result = catalogs.save_translation(users["administrator"], "es", entry_key(entry), seen, {"0": "Aquí"}, False)
    assert result.conflict["theirs"]["forms"] == {"0": "Desde la otra instancia"}


def test_invalid_translation_is_refused_and_nothing_written(served, users):
    before = (served / "es" / "LC_MESSAGES" / "messages.po").read_bytes()
    entry = next(e for e in CatalogEditor("es", served).live_entries() if "%(name)s" in e.msgid and not e.msgid_plural)
    result = save(users["translator"], entry.msgid, {"0": "sin marcador"}, served)
    assert not result.ok and "placeholders" in result.errors[0]
    assert (served / "es" / "LC_MESSAGES" / "messages.po").read_bytes() == before
    assert stored() == {}


def test_plural_entries_take_every_form_the_language_needs(served, users):
    entry = next(e for e in CatalogEditor("es", served).live_entries() if e.msgid_plural and "%(num)d" in e.msgid)
    assert save(users["translator"], entry.msgid, {"0": "%(num)d uno", "1": "%(num)d varios"}, served).ok
    assert first_entry(served, entry.msgid).msgstr_plural == {0: "%(num)d uno", 1: "%(num)d varios"}


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
def test_broken_uploads_are_refused(served, content, message):
    with pytest.raises(CatalogError, match=message):
        upload_report("es", content)


@pytest.mark.parametrize(
    ("language", "accepted"),
    [("zh", True), ("zh_CN", True), ("zh-Hans", True), ("zh_TW", False), ("zh_Hant_TW", False), ("ja", False)],
)
def test_an_upload_must_be_a_catalog_of_the_language_in_its_script(served, language, accepted):
    """zh is Simplified Chinese: a Traditional Chinese file (zh_TW) was taken for it, as the language alone was
    compared."""
    content = f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n\nmsgid "Latest posts"\nmsgstr "最新"\n'.encode()
    if accepted:
        assert [c["msgid"] for c in upload_report("zh", content)["changes"]] == ["Latest posts"]
    else:
        with pytest.raises(CatalogError, match=f"The file is a catalog for '{language.replace('-', '_')}', not 'zh'"):
            upload_report("zh", content)


PLURAL_UPLOAD = """msgid ""
msgstr ""
"Language: es\\n"
"Plural-Forms: nplurals={nplurals}; plural={rule};\\n"

msgid "%(num)d record was deleted."
msgid_plural "%(num)d records were deleted."
{forms}
"""


@pytest.mark.parametrize(
    ("nplurals", "rule", "forms"),
    [(1, "0", ["Se eliminó %(num)d registro."]), (3, "n==1 ? 0 : n==2 ? 1 : 2", ["uno", "dos", "tres"])],
    ids=["fewer-forms", "more-forms"],
)
def test_an_upload_with_another_plural_rule_is_refused(served, nplurals, rule, forms):
    """One form for es blanked the catalog's second when applied (Spanish readers got the English plural); three were
    cut to two on save and so always read as a change, applied and audited again at every upload."""
    written = "\n".join(f'msgstr[{n}] "{text}"' for n, text in enumerate(forms))
    content = PLURAL_UPLOAD.format(nplurals=nplurals, rule=rule, forms=written).encode()
    with pytest.raises(CatalogError, match=f"nplurals={nplurals}, where es has 2 plural forms"):
        upload_report("es", content)


def test_a_plural_entry_missing_a_form_is_a_problem(served):
    content = PLURAL_UPLOAD.format(nplurals=2, rule="(n != 1)", forms='msgstr[0] "Se eliminó %(num)d registro."')
    report = upload_report("es", content.encode())
    assert report["changes"] == []
    assert report["problems"] == [
        {
            "msgid": "%(num)d record was deleted.",
            "errors": ["a plural translation needs msgstr[0] to msgstr[1], no more and no fewer"],
        }
    ]


def test_an_upload_starting_with_a_byte_order_mark_is_read(served, users):
    """Notepad saves UTF-8 with a byte-order mark: the file was refused as "not a readable UTF-8 .po catalog"."""
    upload = CatalogEditor("es", served).load()
    next(e for e in upload if e.msgid == "Latest posts").msgstr = "Últimas noticias"
    report = upload_report("es", b"\xef\xbb\xbf" + str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Latest posts"] and not report["problems"]


def test_an_upload_holding_a_message_twice_is_a_problem_and_changes_nothing(served, users):
    """polib reads both entries; the second's translation was then skipped without a word."""
    upload = CatalogEditor("es", served).load()
    entry = next(e for e in upload if e.msgid == "Latest posts")
    entry.msgstr = "Últimas noticias"
    upload.append(polib.POEntry(msgid=entry.msgid, msgstr="Lo último", msgctxt=entry.msgctxt))
    report, token = catalogs.preview_upload(users["translator"], "es", str(upload).encode())
    assert token is None
    assert {"msgid": "Latest posts", "errors": ["the file holds this message more than once"]} in report["problems"]
    assert stored() == {}


def test_upload_reports_changes_and_applies_only_after_review(served, users):
    translator = users["translator"]
    upload = CatalogEditor("es", served).load()
    next(e for e in upload if e.msgid == "Latest posts").msgstr = "Últimas noticias"
    report, token = catalogs.preview_upload(translator, "es", str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Latest posts"]
    assert first_entry(served, "Latest posts").msgstr != "Últimas noticias", "nothing applied by the preview"
    assert stored() == {}
    assert catalogs.apply_upload(translator, "es", token) == 1
    assert first_entry(served, "Latest posts").msgstr == "Últimas noticias"


def mark_changed_original(committed, msgid: str) -> None:
    """What `pybabel update` does when an original changes: fuzzy, with the old original noted (#| msgid)."""
    editor = CatalogEditor("es", committed)
    catalog = editor.load()
    entry = next(e for e in catalog if e.msgid == msgid)
    entry.flags.append("fuzzy")
    entry.previous_msgid = f"{msgid} (before)"
    catalog.save()


def test_confirming_a_fuzzy_entry_drops_the_old_original(app, served, catalog_dir, users):
    mark_changed_original(catalog_dir, "Latest posts")
    catalog_store.refresh(app)  # a deploy of that commit
    assert "fuzzy" in first_entry(served, "Latest posts").flags
    assert save(users["translator"], "Latest posts", {"0": "Lo último"}, served).ok
    saved = first_entry(served, "Latest posts")
    assert saved.previous_msgid is None and "fuzzy" not in saved.flags
    assert "#| msgid" not in (served / "es" / "LC_MESSAGES" / "messages.po").read_text()


def test_an_applied_upload_drops_the_old_original_too(app, served, catalog_dir, users):
    mark_changed_original(catalog_dir, "Latest posts")
    catalog_store.refresh(app)
    upload = CatalogEditor("es", served).load()
    uploaded = next(e for e in upload if e.msgid == "Latest posts")
    uploaded.flags.remove("fuzzy")
    uploaded.msgstr = "Lo último"
    report, token = catalogs.preview_upload(users["translator"], "es", str(upload).encode())
    assert catalogs.apply_upload(users["translator"], "es", token) == 1
    saved = first_entry(served, "Latest posts")
    assert saved.msgstr == "Lo último" and saved.previous_msgid is None and "fuzzy" not in saved.flags
    assert "#| msgid" not in (served / "es" / "LC_MESSAGES" / "messages.po").read_text()


def test_upload_with_a_bad_placeholder_is_reported(served):
    upload = CatalogEditor("es", served).load()
    entry = next(e for e in upload if "%(name)s" in e.msgid and not e.msgid_plural)
    entry.msgstr = "sin nombre"
    report = upload_report("es", str(upload).encode())
    assert report["problems"] and report["problems"][0]["msgid"] == entry.msgid


@pytest.mark.parametrize("plural", ["%(other)s mensajes", None], ids=["another-plural", "singular-made-plural"])
def test_an_upload_giving_an_entry_another_plural_original_is_a_problem_and_changes_nothing(served, users, plural):
    """An entry is known by its context and msgid: a file that gives it another plural original (with a
    placeholder of its own) or makes a singular one plural is reported, and the entry is not changed. Checked
    against the file's own originals, such an entry was applied and pages formatting it failed (KeyError). A file
    with a problem is not offered for applying."""
    upload = CatalogEditor("es", served).load()
    if plural is None:
        entry = next(e for e in upload if "%(kind)s" in e.msgid and not e.msgid_plural)
        entry.msgid_plural, entry.msgstr = "%(zzz)s", ""
        entry.msgstr_plural = {0: "No se pudo leer %(zzz)s", 1: "No se pudo leer %(zzz)s"}
    else:
        entry = next(e for e in upload if e.msgid_plural and "%(num)d" in e.msgid)
        entry.msgid_plural = "%(other)s x"
        entry.msgstr_plural = {0: "%(other)s mensaje", 1: plural}
    changed = next(e for e in upload if e.msgid == "Latest posts")
    changed.msgstr = "Últimas noticias"
    report, token = catalogs.preview_upload(users["translator"], "es", str(upload).encode())
    assert [problem["msgid"] for problem in report["problems"]] == [entry.msgid]
    assert "plural original must be the catalog's" in report["problems"][0]["errors"][0]
    assert [change["msgid"] for change in report["changes"]] == ["Latest posts"]
    assert token is None and stored() == {}


def test_new_locale_gets_its_plural_rule(served, users):
    admin = users["administrator"]
    assert catalogs.add_language(admin, "ru") == "ru"
    created = polib.pofile(str(served / "ru" / "LC_MESSAGES" / "messages.po"))
    assert created.metadata["Plural-Forms"] == get_plural("ru").plural_forms  # whatever Babel's data says
    assert (served / "ru" / "LC_MESSAGES" / "messages.mo").exists()
    with pytest.raises(CatalogError, match="already"):
        catalogs.add_language(admin, "ru")
    with pytest.raises(CatalogError):
        catalogs.add_language(admin, "../../etc")
    with pytest.raises(CatalogError, match="not a language"):
        catalogs.add_language(admin, "qq")


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
def catalog_audit() -> list[tuple[str, str]]:
    rows = fresh(sa.select(AuditLog).where(AuditLog.object_type == "Catalog").order_by(AuditLog.id)).scalars()
    return [(row.object_id, row.summary) for row in rows]


def test_a_saved_translation_is_audited(served, users):
    key = entry_key(first_entry(served, "Latest posts"))
    assert save(users["translator"], "Latest posts", {"0": "Lo último"}, served).ok
    assert catalog_audit() == [("es", f"entry {key} saved")]


def test_a_refused_translation_writes_nothing_and_audits_nothing(served, users):
    before = (served / "es" / "LC_MESSAGES" / "messages.po").read_bytes()
    entry = next(e for e in CatalogEditor("es", served).live_entries() if "%(name)s" in e.msgid and not e.msgid_plural)
    assert not save(users["translator"], entry.msgid, {"0": "sin marcador"}, served).ok
    assert (served / "es" / "LC_MESSAGES" / "messages.po").read_bytes() == before and catalog_audit() == []


@pytest.mark.parametrize(
    ("role", "may_edit", "may_add"),
    [("reader", False, False), ("author", False, False), ("editor", False, False), ("translator", True, False),
     ("administrator", True, True)],
)  # fmt: skip
def test_who_may_change_the_catalogs(served, users, role, may_edit, may_add):
    def edit():
        save(users[role], "Older", {"0": "x"}, served)

    def add():
        catalogs.add_language(users[role], "fr")

    for action, allowed in ((edit, may_edit), (add, may_add)):
        if allowed:
            action()
        else:
            with pytest.raises(CatalogForbidden):
                action()
    assert (served / "fr").exists() == may_add
    assert ("Older" in stored()) == may_edit


def test_an_upload_is_applied_once_by_the_translator_who_previewed_it(served, users):
    translator, admin = users["translator"], users["administrator"]
    upload = CatalogEditor("es", served).load()
    next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos"
    report, token = catalogs.preview_upload(translator, "es", str(upload).encode())
    assert [c["msgid"] for c in report["changes"]] == ["Newer"] and token
    assert catalog_audit() == [], "a preview changes nothing"
    with pytest.raises(CatalogError, match="someone else"):
        catalogs.apply_upload(admin, "es", token)
    with pytest.raises(CatalogError, match="unknown"):
        catalogs.apply_upload(translator, "zh", token)
    with pytest.raises(CatalogError, match="unknown"):
        catalogs.apply_upload(translator, "es", token[:-2] + "xx")
    assert catalogs.apply_upload(translator, "es", token) == 1
    assert first_entry(served, "Newer").msgstr == "Más nuevos"
    assert catalog_audit() == [("es", "upload applied: 1 entries")]
    with pytest.raises(CatalogError, match="already applied"):
        catalogs.apply_upload(translator, "es", token)


def test_a_preview_can_be_applied_for_its_ttl_and_not_a_second_longer(app, served, users, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_PREVIEW_TTL", 60)
    translator = users["translator"]
    newer, older = CatalogEditor("es", served).load(), CatalogEditor("es", served).load()
    next(e for e in newer if e.msgid == "Newer").msgstr = "Más nuevos"
    next(e for e in older if e.msgid == "Older").msgstr = "Más viejos"
    with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
        _, on_time = catalogs.preview_upload(translator, "es", str(newer).encode())
        _, too_late = catalogs.preview_upload(translator, "es", str(older).encode())
        clock.shift(60)
        assert catalogs.apply_upload(translator, "es", on_time) == 1
        clock.shift(1)
        with pytest.raises(CatalogError, match="This preview has expired; upload the file again."):
            catalogs.apply_upload(translator, "es", too_late)
    assert stored() == {"Newer": {"forms": {"0": "Más nuevos"}, "fuzzy": False}}
    assert first_entry(served, "Older").msgstr != "Más viejos"
    assert catalog_audit() == [("es", "upload applied: 1 entries")]


def test_an_upload_skips_entries_changed_since_its_preview(served, users):
    translator = users["translator"]
    upload = CatalogEditor("es", served).load()
    next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos"
    next(e for e in upload if e.msgid == "Older").msgstr = "Más viejos"
    _, token = catalogs.preview_upload(translator, "es", str(upload).encode())
    assert save(users["administrator"], "Older", {"0": "Antiguos"}, served).ok
    assert catalogs.apply_upload(translator, "es", token) == 1
    assert first_entry(served, "Older").msgstr == "Antiguos" and first_entry(served, "Newer").msgstr == "Más nuevos"


def test_a_new_language_is_audited(served, users):
    assert catalogs.add_language(users["administrator"], " pt-BR ") == "pt_BR"
    assert (served / "pt_BR" / "LC_MESSAGES" / "messages.mo").exists()
    assert catalog_audit() == [("pt_BR", "catalog for pt_BR created")]


@pytest.mark.parametrize(
    ("msgstr", "problem"),
    [("登录<img src=x onerror=alert(1)/>", "markup"), ("登录%", "formatted")],
)
def test_cms_i18n_compile_refuses_a_catalog_that_fails_the_checks(app, catalog_dir, monkeypatch, msgstr, problem):
    import polib

    monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(catalog_dir))
    po_path = catalog_dir / "zh" / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    before = mo_path.read_bytes() if mo_path.exists() else None
    catalog = polib.pofile(str(po_path))
    catalog.find("Sign in").msgstr = msgstr
    catalog.save()
    result = app.test_cli_runner().invoke(args=["cms", "i18n", "compile"])
    assert result.exit_code == 1 and problem in result.output and "'Sign in'" in result.output
    assert (mo_path.read_bytes() if mo_path.exists() else None) == before, "nothing was compiled"
    catalog.find("Sign in").msgstr = "登录"
    catalog.save()
    assert app.test_cli_runner().invoke(args=["cms", "i18n", "compile"]).exit_code == 0
