"""Translators' work kept in the database: every app instance builds its catalogs from the committed .po with the
saved entries on top, a deploy keeps them and merges in the code's new messages, a worker rebuilds only when the
catalogs changed, and a string saved through one instance is what another renders within a second."""

import json
import os
import signal
import threading
import uuid
from datetime import UTC
from pathlib import Path

import polib
import pytest
import sqlalchemy as sa
import time_machine

from cms import catalog_store, catalogs, page_cache
from cms.catalog_editor import CatalogEditor, entry_key, entry_value
from cms.extensions import cache, db
from cms.i18n import translations_dir
from cms.models import CatalogEntry, CatalogRevision, utcnow
from tests.support.catalogs import (
    built_entry,
    entry_form,
    keep_translation,
    run_in_own_process,
    served_pair,
    served_text,
    serving,
    translations_of_this_test,
)
from tests.support.database import StatementCounter, backend_of, fresh, make_app
from tests.support.web import Browserish

NEW_MESSAGE = "A message the new code brings"


def save(user, locale: str, msgid: str, text: str, directory) -> None:
    entry = built_entry(directory, locale, msgid)
    assert catalogs.save_translation(user, locale, entry_key(entry), entry_value(entry), {"0": text}, False).ok


def commit_to(committed, locale: str, change) -> None:
    """A developer's commit to the checkout `committed`: `change(catalog)` on `locale`'s .po and on messages.pot."""
    for path in (committed / locale / "LC_MESSAGES" / "messages.po", committed / "messages.pot"):
        catalog = polib.pofile(str(path), wrapwidth=78)
        change(catalog)
        catalog.save()


def add_new_message(catalog) -> None:
    catalog.append(polib.POEntry(msgid=NEW_MESSAGE, msgstr="", occurrences=[("cms/templates/public/index.html", "9")]))


def instance(app, home, **settings):
    """Another app instance on the test database, with its own working folders under `home`."""
    return make_app(backend_of(app), home, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], **settings)


def dispose(*instances) -> None:
    for made in instances:
        with made.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


# -- deploys ---------------------------------------------------------------------------------------
def test_a_translators_save_survives_a_deploy_and_the_codes_new_messages_merge_in(app, users, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "old-machine") as old_build:
        save(users["translator"], "es", "Latest posts", "Lo último", old_build)

    def new_release(catalog) -> None:  # the code gains a message; a developer rewords two committed translations
        add_new_message(catalog)
        for entry in catalog:
            if entry.msgid == "Latest posts" and catalog.metadata.get("Language") == "es":
                entry.msgstr = "Artículos recientes"
            if entry.msgid == "Older" and catalog.metadata.get("Language") == "es":
                entry.msgstr = "Más antiguos"

    commit_to(catalog_dir, "es", new_release)
    deployed = instance(app, tmp_path / "new-machine", CATALOG_SOURCE_DIR=str(catalog_dir))
    try:
        with translations_of_this_test(app), deployed.app_context():  # the command runs in the current app
            result = deployed.test_cli_runner().invoke(args=["cms", "init"])
            assert result.exit_code == 0, result.output
            assert "with 1 translator edit(s) from the database" in result.output
            build = translations_dir(deployed)
            assert built_entry(build, "es", "Latest posts").msgstr == "Lo último", "the translator's text wins"
            assert built_entry(build, "es", "Older").msgstr == "Más antiguos", "the committed text where nobody saved"
            assert built_entry(build, "es", NEW_MESSAGE).msgstr == "", "new messages arrive untranslated"
            assert served_text(build, "es", "Latest posts") == "Lo último"
            assert served_text(build, "es", NEW_MESSAGE) == NEW_MESSAGE
            page = Browserish(deployed.test_client()).get("/es/").get_data(as_text=True)
            assert "Lo último" in page
    finally:
        dispose(deployed)


def test_saved_entries_whose_message_left_the_code_are_kept_but_not_served(app, users, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "served") as build:
        save(users["translator"], "es", "Older", "Los de antes", build)
        removed = []
        commit_to(catalog_dir, "es", lambda catalog: removed.extend(catalog.remove(e) for e in catalog.copy()
                                                                    if e.msgid == "Older"))  # fmt: skip
        catalog_store.refresh(app)
        assert "Older" not in [e.msgid for e in CatalogEditor("es", build).live_entries()]
        assert fresh(sa.select(CatalogEntry.msgid).where(CatalogEntry.locale == "es")).scalars().all() == ["Older"]

        def bring_back(catalog) -> None:
            catalog.append(polib.POEntry(msgid="Older", msgstr="Anteriores"))

        commit_to(catalog_dir, "es", bring_back)
        catalog_store.refresh(app)
        assert built_entry(build, "es", "Older").msgstr == "Los de antes"


def test_a_language_added_in_the_console_is_built_on_every_instance(app, users, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "one"):
        catalogs.add_language(users["administrator"], "fr")
    other = instance(app, tmp_path / "two", CATALOG_SOURCE_DIR=str(catalog_dir))
    try:
        with translations_of_this_test(app), other.app_context():
            built = catalog_store.refresh(other)
            assert built.locales == ["es", "fr", "zh"]
            assert built_entry(translations_dir(other), "fr", "Latest posts").msgstr == ""
    finally:
        dispose(other)


def test_a_row_that_cannot_be_built_leaves_that_languages_catalog_as_it_was(app, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "served") as build:
        before = (build / "es" / "LC_MESSAGES" / "messages.mo").read_bytes()
        entry = built_entry(build, "es", "Latest posts")
        catalog_store.claim_revision()
        db.session.add(CatalogEntry(locale="es", msgkey=entry_key(entry), msgid=entry.msgid, forms="not json"))
        db.session.add(CatalogEntry(locale="zh", msgkey=entry_key(entry), msgid=entry.msgid, forms='{"0": "新"}'))
        db.session.commit()
        catalog_store.refresh(app)
        assert (build / "es" / "LC_MESSAGES" / "messages.mo").read_bytes() == before
        assert served_text(build, "zh", "Latest posts") == "新", "the other languages are built"


# -- a build that dies half-way, and what it leaves ------------------------------------------------------
OLD = {"es": "Los de antes", "zh": "以前的文章"}
NEW = {"es": "Lo más nuevo", "zh": "最新的文章"}


class Died(BaseException):
    """The process dying: nothing the code under test catches (it catches Exception subclasses)."""


def dying_at(monkeypatch, step: int) -> list[str]:
    """From now on the process dies at its `step`-th rename (os.replace or os.rename, where a file or a folder
    takes the name it is read by), before that rename; the renames asked for."""
    asked: list[str] = []
    for name in ("replace", "rename"):

        def rename(src, dst, *args, _real=getattr(os, name), **kwargs):
            asked.append(str(dst))
            if len(asked) == step:
                raise Died(dst)
            return _real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, name, rename)
    return asked


def served_texts(app) -> dict[str, tuple[str, str]]:
    """For "Latest posts" in every language: what the workspace shows (.po) and what readers get (.mo)."""
    return {locale: served_pair(translations_dir(app), locale, "Latest posts") for locale in OLD}


def whole(texts: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {locale: (text, text) for locale, text in texts.items()}


def temporary_files(root) -> list:
    return sorted(str(path) for path in root.rglob("*.tmp"))


def test_a_build_that_dies_at_any_step_leaves_the_old_or_the_new_catalogs_served_whole(
    app, tmp_path, catalog_dir, monkeypatch
):
    worker = instance(app, tmp_path / "machine", CATALOG_SOURCE_DIR=str(catalog_dir))
    root = tmp_path / "machine" / "translations"
    restarted = None
    try:
        with translations_of_this_test(app):
            with worker.app_context():
                step, finished = 0, False
                while not finished:
                    step += 1
                    for locale, text in OLD.items():
                        keep_translation(locale, "Latest posts", text, catalog_dir)
                    catalog_store.refresh(worker)
                    for locale, text in NEW.items():
                        keep_translation(locale, "Latest posts", text, catalog_dir)
                    with monkeypatch.context() as patched:
                        renames = dying_at(patched, step)
                        try:
                            catalog_store.refresh(worker)
                            finished = True
                        except Died:
                            pass
                    assert served_texts(worker) in (whole(OLD), whole(NEW)), f"died at {renames[-1]}"
                assert step > 5, "the build renames at least its catalogs, the folder and the link"
                assert served_texts(worker) == whole(NEW)
            restarted = instance(app, tmp_path / "machine", CATALOG_SOURCE_DIR=str(catalog_dir))
            assert temporary_files(root) == [], "the restart swept what the dead builds left"
            assert NEW["zh"] in Browserish(restarted.test_client()).get("/zh/").get_data(as_text=True)
            assert served_texts(restarted) == whole(NEW)
    finally:
        dispose(worker, *([restarted] if restarted else []))


KILLED_AFTER_ZH_MO = """
    import os, signal
    from cms import catalog_store

    real_replace = os.replace

    def replace_then_die(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        if str(dst).endswith("zh/LC_MESSAGES/messages.mo"):
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace_then_die
    catalog_store.refresh(app)
"""


def test_a_build_killed_mid_way_leaves_the_old_catalogs_served_and_a_restart_sweeps_and_serves_the_new(
    app, tmp_path, catalog_dir
):
    home = tmp_path / "machine"
    worker = instance(app, home, CATALOG_SOURCE_DIR=str(catalog_dir))
    restarted = None
    try:
        with translations_of_this_test(app):
            with worker.app_context():
                for locale, text in OLD.items():
                    keep_translation(locale, "Latest posts", text, catalog_dir)
                catalog_store.refresh(worker)
                for locale, text in NEW.items():
                    keep_translation(locale, "Latest posts", text, catalog_dir)
            assert run_in_own_process(worker, KILLED_AFTER_ZH_MO) == -signal.SIGKILL
            assert served_texts(worker) == whole(OLD), "every language as it was, .po and .mo alike"
            assert temporary_files(home / "translations"), "the killed build left its half-built folder"
            restarted = instance(app, home, CATALOG_SOURCE_DIR=str(catalog_dir))
            assert temporary_files(home / "translations") == []
            assert NEW["zh"] in Browserish(restarted.test_client()).get("/zh/").get_data(as_text=True)
            assert served_texts(restarted) == whole(NEW)
    finally:
        dispose(worker, *([restarted] if restarted else []))


def test_start_up_removes_what_unfinished_writes_left_and_nothing_else(app, tmp_path, catalog_dir):
    home = tmp_path / "machine"
    worker = instance(app, home, CATALOG_SOURCE_DIR=str(catalog_dir))
    root, committed = home / "translations", catalog_dir / "zh" / "LC_MESSAGES"
    restarted = None
    try:
        with translations_of_this_test(app), worker.app_context():
            catalog_store.refresh(worker)
            left = [
                committed / "tmpk2j4x9.po.tmp",  # a catalog write or compile
                committed / "tmp8fq0ls.mo.tmp",
                committed / "tmpmessages.po",  # pybabel update's copy, beside messages.po
                catalog_dir / "tmpw1z7c3.pot.tmp",  # cms i18n extract
                root / "builds" / "5c0ffee.tmp" / "zh" / "LC_MESSAGES" / "messages.po",  # a half-built folder
                root / "zh" / "LC_MESSAGES" / "tmpa8d2kq.mo.tmp",  # an earlier version's build, written in place
                committed / f"upload-{uuid.uuid4().hex}.json",  # an upload preview as earlier versions kept it
            ]
            kept = [
                committed / "messages.po",
                committed / "glossary.txt",
                committed / "tmpglossary.po",  # no glossary.po beside it: a catalog of its own
                committed / "upload-notes.json",
                catalog_dir / "notes" / "draft.tmp",  # not a catalog folder
                root / "README",
                translations_dir(worker) / "zh" / "LC_MESSAGES" / "messages.mo",  # the catalog served
            ]
            for path in left + kept[1:-1]:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{path.name}\n")
            (root / "current.5c0ffee.tmp").symlink_to(Path("builds", "5c0ffee"))  # a switch not made
            before = {path: path.read_bytes() for path in kept}

            restarted = instance(app, home, CATALOG_SOURCE_DIR=str(catalog_dir))
            gone = [*left, root / "builds" / "5c0ffee.tmp", root / "current.5c0ffee.tmp"]
            assert [str(path) for path in gone if path.exists() or path.is_symlink()] == []
            assert {path: path.read_bytes() for path in kept} == before
            assert served_text(translations_dir(restarted), "zh", "Latest posts") == "最新文章"
    finally:
        dispose(worker, *([restarted] if restarted else []))


def test_a_build_keeps_the_served_build_and_the_one_before_it(app, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "machine") as served:
        names = [os.readlink(served)]
        for _ in range(3):
            catalog_store.refresh(app, force=True)
            names.append(os.readlink(served))
        assert len(set(names)) == 4, "each build is a folder of its own"
        kept = sorted(f"builds/{path.name}" for path in (tmp_path / "machine" / "builds").iterdir())
        assert kept == sorted(names[-2:])


# -- workers notice changes ------------------------------------------------------------------------
def revision_reads(counter) -> int:
    return sum("catalog_revision" in s for s in counter.statements)


def test_a_worker_reads_the_revision_when_the_content_version_moved_and_rebuilds_when_it_did(app, tmp_path):
    worker = instance(app, tmp_path / "worker", PAGE_CACHE_VERSION_TTL=1.0)
    stamp = translations_dir(worker) / catalog_store.BUILD_STAMP
    try:
        with (
            translations_of_this_test(app),
            time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock,
            worker.test_request_context(),
        ):
            assert catalog_store.reload_if_changed(worker) is True, "the first look builds"
            built_at = stamp.stat().st_mtime_ns
            with StatementCounter(db.engine) as counter:
                assert catalog_store.reload_if_changed(worker) is False
            assert counter.statements == [], "within PAGE_CACHE_VERSION_TTL nothing is read"
            with app.app_context():  # another instance changes what the public sees (a post, a comment)
                page_cache.bump()
                db.session.commit()
            clock.shift(1.01)
            with StatementCounter(db.engine) as counter:
                assert catalog_store.reload_if_changed(worker) is False
            assert revision_reads(counter) == 1 and stamp.stat().st_mtime_ns == built_at, "read, not rebuilt"
            with app.app_context():  # another instance saves a translation
                catalog_store.claim_revision()
                page_cache.bump()
                db.session.commit()
            clock.shift(1.01)
            assert catalog_store.reload_if_changed(worker) is True
    finally:
        dispose(worker)


def test_every_change_gives_the_catalogs_a_new_revision(app, users, tmp_path, catalog_dir):
    def current() -> str | None:
        return fresh(sa.select(CatalogRevision.token)).scalar()

    with serving(app, catalog_dir, tmp_path / "served") as build:
        seen = {current()}
        save(users["translator"], "es", "Older", "Viejos", build)
        seen.add(current())
        catalogs.add_language(users["administrator"], "it")
        seen.add(current())
        entry = built_entry(build, "es", "Older")
        refused = catalogs.save_translation(users["translator"], "es", entry_key(entry), {}, {"0": "x"}, False)
        assert refused.conflict
        seen.add(current())
    assert len(seen) == 3, "a refused save changes nothing"


# -- the developers' side --------------------------------------------------------------------------
def test_export_po_writes_the_translators_work_into_the_checkout(app, users, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "served") as build:
        save(users["translator"], "zh", "Older", "更早的文章", build)
        runner = app.test_cli_runner()
        printed = runner.invoke(args=["cms", "i18n", "export-po", "--locale", "zh", "--output", "-"])
        assert printed.exit_code == 0, printed.output
        assert next(e for e in polib.pofile(printed.output) if e.msgid == "Older").msgstr == "更早的文章"
        result = runner.invoke(args=["cms", "i18n", "export-po", "--locale", "zh"])
        assert result.exit_code == 0, result.output
        committed = polib.pofile(str(catalog_dir / "zh" / "LC_MESSAGES" / "messages.po"))
        assert next(e for e in committed if e.msgid == "Older").msgstr == "更早的文章"
        assert all(not source.startswith("/") for e in committed for source, _ in e.occurrences)
        unknown = runner.invoke(args=["cms", "i18n", "export-po", "--locale", "de"])
        assert unknown.exit_code == 1 and "There is no catalog for 'de'" in unknown.output


EXPORT_KILLED_AT_4_KIB = """
    import resource, signal

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # a write past 4 KiB into any file kills the process
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # (Python ignores the signal unless told)
    app.test_cli_runner().invoke(args=["cms", "i18n", "export-po", "--locale", "zh"])
"""


def test_export_po_killed_mid_write_leaves_the_committed_po_whole(app, tmp_path, catalog_dir):
    worker = instance(app, tmp_path / "machine", CATALOG_SOURCE_DIR=str(catalog_dir))
    committed = catalog_dir / "zh" / "LC_MESSAGES" / "messages.po"
    before = committed.read_bytes()
    restarted = None
    try:
        with worker.app_context():
            keep_translation("zh", "Older", "更早的文章", catalog_dir)
        assert run_in_own_process(worker, EXPORT_KILLED_AT_4_KIB) == -signal.SIGXFSZ
        assert committed.read_bytes() == before
        assert list(committed.parent.glob("*.tmp")), "the killed export left its temporary file"
        restarted = instance(app, tmp_path / "machine", CATALOG_SOURCE_DIR=str(catalog_dir))
        assert list(committed.parent.glob("*.tmp")) == [] and committed.read_bytes() == before
    finally:
        dispose(worker, *([restarted] if restarted else []))


def test_built_and_exported_catalogs_get_the_permissions_of_any_new_file(app, users, tmp_path, catalog_dir):
    umask = os.umask(0o022)  # as a service usually runs: readable by the web server's user, writable by its owner
    try:
        with serving(app, catalog_dir, tmp_path / "machine") as build:
            save(users["translator"], "zh", "Older", "更早的文章", build)
            assert app.test_cli_runner().invoke(args=["cms", "i18n", "export-po", "--locale", "zh"]).exit_code == 0
            files = [build / "zh" / "LC_MESSAGES" / name for name in ("messages.po", "messages.mo", "admin.mo")]
            files.append(catalog_dir / "zh" / "LC_MESSAGES" / "messages.po")
            assert {str(path): oct(path.stat().st_mode & 0o777) for path in files} == {str(p): "0o644" for p in files}
    finally:
        os.umask(umask)


def test_import_po_loads_a_files_translations_with_an_uploads_checks(app, users, tmp_path, catalog_dir):
    with serving(app, catalog_dir, tmp_path / "served") as build:
        upload = CatalogEditor("es", build).load()
        next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos 🎉"
        upload.append(polib.POEntry(msgid="Nobody wrote this", msgstr="Nadie"))
        good = tmp_path / "good.po"
        good.write_text(str(upload), encoding="utf-8")
        broken = next(e for e in upload if "%(name)s" in e.msgid and not e.msgid_plural)
        broken.msgstr = "sin nombre"
        bad = tmp_path / "bad.po"
        bad.write_text(str(upload), encoding="utf-8")
        runner = app.test_cli_runner()

        refused = runner.invoke(args=["cms", "i18n", "import-po", str(bad), "--locale", "es"])
        assert refused.exit_code == 1 and "nothing was imported" in refused.output
        assert fresh(sa.select(CatalogEntry)).scalars().all() == []

        result = runner.invoke(args=["cms", "i18n", "import-po", str(good), "--locale", "es"])
        assert result.exit_code == 0, result.output
        assert "Imported 1 of 1 changed entries" in result.output and "'Nobody wrote this'" in result.output
        row = fresh(sa.select(CatalogEntry)).scalar_one()
        assert (row.msgid, json.loads(row.forms)) == ("Newer", {"0": "Más nuevos 🎉"})
        assert served_text(build, "es", "Newer") == "Más nuevos 🎉"


# -- two instances, as on two machines -------------------------------------------------------------
REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")


@pytest.mark.parametrize(
    "shared_redis",
    [False, pytest.param(True, marks=pytest.mark.skipif(not REDIS_URL, reason="needs CMS_TEST_REDIS_URL"))],
    ids=["database-only", "with-redis"],
)
def test_a_string_saved_on_one_instance_is_what_another_renders_within_a_second(app, users, tmp_path, shared_redis):
    settings: dict = {"PAGE_CACHE_VERSION_TTL": 1.0}
    if shared_redis:  # one page cache for both, under a prefix of this test's own
        settings.update(REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex[:12]}-")
    a, b = instance(app, tmp_path / "a", **settings), instance(app, tmp_path / "b", **settings)
    b_build = translations_dir(b)
    try:
        with (
            translations_of_this_test(app),
            time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock,
        ):
            reader = Browserish(b.test_client())
            assert "最新文章" in reader.get("/zh/").get_data(as_text=True)
            translator = Browserish(a.test_client())
            translator.login(users["translator"].email)
            page = translator.get("/admin/translations/zh/?q=Latest+posts").get_data(as_text=True)
            saved = translator.post(
                "/admin/translations/zh/save", data={**entry_form(page, "Latest posts"), "form_0": "头条新闻"}
            )
            assert saved.status_code == 302
            clock.shift(0.5)
            assert "最新文章" in reader.get("/zh/").get_data(as_text=True), "B trusts what it read for up to 1 s"
            assert served_text(b_build, "zh", "Latest posts") == "最新文章"
            clock.shift(0.51)
            html = reader.get("/zh/").get_data(as_text=True)
            assert "头条新闻" in html and "最新文章" not in html
            assert served_text(b_build, "zh", "Latest posts") == "头条新闻", "B rebuilt its own catalogs"
            signed_in = Browserish(b.test_client())  # rendered by B itself, past any shared page cache
            signed_in.login(users["reader"].email)
            assert "头条新闻" in signed_in.get("/zh/").get_data(as_text=True)
    finally:
        if shared_redis:
            with a.app_context():
                cache.clear()
        dispose(a, b)


# -- another instance's change, met by a failure, by two requests at once, by a deploy -------------------------
OLD_WORDING, NEW_WORDING = "最新文章", "头条新闻"  # zh "Latest posts", committed and as the translator saves it


@pytest.fixture
def pair(app, tmp_path):
    """Two instances on the test database (as on two machines), each serving its own build of the catalogs."""
    a, b = instance(app, tmp_path / "a"), instance(app, tmp_path / "b")
    try:
        with translations_of_this_test(app):
            yield a, b
    finally:
        dispose(a, b)


def save_on(a, users, text: str = NEW_WORDING) -> None:
    translator = Browserish(a.test_client())
    translator.login(users["translator"].email)
    page = translator.get("/admin/translations/zh/?q=Latest+posts").get_data(as_text=True)
    saved = translator.post("/admin/translations/zh/save", data={**entry_form(page, "Latest posts"), "form_0": text})
    assert saved.status_code == 302


def test_an_instance_whose_revision_read_failed_once_serves_the_saved_string_next(pair, users, monkeypatch):
    """B recorded the new content version before reading the catalogs' revision: one failed read (a database
    blip) left it on the old wording until some other change moved the version."""
    a, b = pair
    reader = Browserish(b.test_client())
    assert OLD_WORDING in reader.get("/zh/").get_data(as_text=True)
    save_on(a, users)
    real, reads = catalog_store.revision, []

    def failing_once():
        reads.append(1)
        if len(reads) == 1:
            raise sa.exc.OperationalError("SELECT token FROM catalog_revision", {}, Exception("Lost connection"))
        return real()

    monkeypatch.setattr(catalog_store, "revision", failing_once)
    with pytest.raises(sa.exc.OperationalError):  # TESTING lets it through; production answers 503
        reader.get("/zh/")
    assert NEW_WORDING in reader.get("/zh/").get_data(as_text=True)


def test_a_request_meeting_a_rebuild_on_its_instance_waits_for_the_new_wording(pair, users, monkeypatch):
    """Two readers at once on B after A's save: the second skipped the rebuild the first was doing, rendered the old
    wording, and the page cache kept it under the new content version."""
    a, b = pair
    assert OLD_WORDING in Browserish(b.test_client()).get("/zh/").get_data(as_text=True)
    save_on(a, users)
    real_build, building, go_on = catalog_store.build, threading.Event(), threading.Event()

    def slow_build(app, force=False):
        if threading.current_thread().name == "first":
            building.set()
            go_on.wait(10)
        return real_build(app, force)

    monkeypatch.setattr(catalog_store, "build", slow_build)
    pages = {}

    def read(name):
        pages[name] = Browserish(b.test_client()).get("/zh/").get_data(as_text=True)

    first = threading.Thread(target=read, args=("first",), name="first")
    first.start()
    assert building.wait(10)
    second = threading.Thread(target=read, args=("second",), name="second")
    second.start()
    second.join(0.5)  # it waits for the rebuild
    go_on.set()
    first.join(10)
    second.join(10)
    assert NEW_WORDING in pages["first"] and NEW_WORDING in pages["second"]
    assert NEW_WORDING in Browserish(b.test_client()).get("/zh/").get_data(as_text=True)


@pytest.mark.skipif(not os.environ.get("CMS_TEST_REDIS_URL"), reason="the pages shared by instances are in Redis")
def test_a_deploy_rewording_a_committed_translation_is_what_readers_get_next(app, tmp_path, catalog_dir):
    """The old release's pages stayed in the shared cache after a deploy changed a committed translation (nothing
    moved the content version): readers got the old wording for up to an hour."""
    shared = {"REDIS_URL": os.environ["CMS_TEST_REDIS_URL"], "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}-",
              "CATALOG_SOURCE_DIR": str(catalog_dir)}  # fmt: skip
    old = instance(app, tmp_path / "old", **shared)
    try:
        with translations_of_this_test(app):
            assert OLD_WORDING in Browserish(old.test_client()).get("/zh/").get_data(as_text=True)
            path = catalog_dir / "zh" / "LC_MESSAGES" / "messages.po"
            po = polib.pofile(str(path), wrapwidth=76)
            next(e for e in po if e.msgid == "Latest posts").msgstr = "近期文章"
            po.save()
            new = instance(app, tmp_path / "new", **shared)
            try:
                with new.app_context():
                    result = new.test_cli_runner().invoke(args=["cms", "init"])
                assert result.exit_code == 0 and "Cached public pages will be made again." in result.output
                assert "近期文章" in Browserish(new.test_client()).get("/zh/").get_data(as_text=True)
            finally:
                dispose(new)
    finally:
        with old.app_context():
            cache.clear()
        dispose(old)
