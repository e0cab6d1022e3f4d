"""MariaDB not answering: while it lasts every request gets a 503 page in the reader's language (JSON under /api/)
with Retry-After, never a 500; once it answers again every page is served, with no restart of the app; a
transaction cut half-way leaves no rows. (Redis: tests/test_redis_down.py; disks: tests/test_disk.py.)"""

import re
import sqlite3
import threading
import time

import polib
import pymysql
import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from flask_migrate import upgrade
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import exc as sa_exc

from cms import comment_counts, i18n, outages
from cms.accounts import create_user, ensure_default_roles
from cms.cli import MIGRATIONS_DIR
from cms.comments import id_batches, moderate
from cms.extensions import db
from cms.i18n import TRANSLATIONS_DIR
from cms.models import AuditLog, Comment, ContentVersion, Post, PostRevision, PostTranslation
from tests.factories import make_comment, make_post
from tests.support.database import backend_of, fresh, make_app
from tests.support.outages import (
    Gunicorn,
    PrivateMariaDB,
    free_port,
    skip_unless_may_restart_mariadb,
)
from tests.support.web import PASSWORD, Browserish, csrf_token, page_errors

VISIBLE = re.compile(r"<(script|style|head)[^>]*>.*?</\1>", re.S)


def visible_lines(html: str) -> list[str]:
    text = re.sub(r"<[^>]+>", "\n", VISIBLE.sub(" ", html))
    return [line.strip() for line in text.splitlines() if line.strip()]


def translated(locale: str) -> dict[str, str]:
    """The catalog's translations into `locale` that differ from the English."""
    entries = polib.pofile(str(TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"))
    return {e.msgid: e.msgstr for e in entries if e.msgstr and e.msgstr != e.msgid and not e.obsolete}


def assert_unavailable_page(response, lang: str) -> None:
    """A 503 page (not a traceback, not a 500) in `lang`: every line the English page shows that the catalog
    translates is shown translated."""
    html = response.get_data(as_text=True) if hasattr(response, "get_data") else response
    assert f'<html lang="{lang}">' in html, html[:300]
    assert "Traceback" not in html and "OperationalError" not in html
    lines = visible_lines(html)
    assert "503" in lines
    if lang != "en":
        catalog = translated(lang)
        english_left = [line for line in lines if line in catalog]
        assert english_left == [], f"untranslated on the {lang} 503 page"


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(outages.RETRY_AFTER)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == 503 and error["title"] and error["description"]


# -- a database that never answers (nothing listens on its port): runs everywhere ---------------------
# The outage apps answer errors raised outside a view (opening a server-side session) as production does, through
# the error handlers, instead of raising them into the test.
AS_IN_PRODUCTION = {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def unreachable(tmp_path):
    """An app whose MariaDB does not answer (nothing listens on its port), serving the committed catalogs (compiled
    at the session's start), as an instance serves the catalogs it built before the outage."""
    build = tmp_path / "catalogs"
    build.mkdir()
    i18n.served_dir(build).symlink_to(TRANSLATIONS_DIR)
    down = make_app(
        "mariadb",
        tmp_path,
        DATABASE_URL=f"mysql+pymysql://root@127.0.0.1:{free_port()}/cms?charset=utf8mb4",
        CATALOG_BUILD_DIR=str(build),
        **AS_IN_PRODUCTION,
    )
    yield down
    with down.app_context():
        db.engine.dispose()


PAGES = [  # (url, request headers, the language the 503 page must be in)
    ("/", {"Accept-Language": "es-MX,es;q=0.9"}, "es"),
    ("/zh/", {}, "zh"),
    ("/es/posts/some-story", {}, "es"),
    ("/login?lang=zh", {}, "zh"),
    ("/register?lang=es", {"Accept-Language": "zh"}, "es"),
    ("/admin/post/", {"Accept-Language": "zh-CN"}, "zh"),
    ("/zh/nowhere", {}, "zh"),
]


@pytest.mark.parametrize(("url", "headers", "lang"), PAGES, ids=[url for url, _, _ in PAGES])
def test_while_the_database_does_not_answer_pages_are_a_503_in_the_readers_language(unreachable, url, headers, lang):
    response = unreachable.test_client().get(url, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(outages.RETRY_AFTER)
    assert "no-store" in response.headers["Cache-Control"]
    assert_unavailable_page(response, lang)
    with unreachable.test_request_context(), force_locale(lang):
        assert gettext("Temporarily unavailable") in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/api/v1/posts", "/api/v1/posts/1?locale=zh", "/api/v1/posts/1/comments"])
def test_while_the_database_does_not_answer_the_api_answers_a_json_503(unreachable, url):
    assert_unavailable_json(unreachable.test_client().get(url))


def _operational(code: int, message: str = "") -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, pymysql.err.OperationalError(code, message))


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (_operational(2003, "Can't connect to MySQL server"), True),
        (_operational(2002, "Can't connect through socket"), True),
        (_operational(1053, "Server shutdown in progress"), True),
        (_operational(1040, "Too many connections"), True),
        (
            sa_exc.OperationalError(
                "SELECT 1", {}, pymysql.err.OperationalError(2013, "Lost"), connection_invalidated=True
            ),
            True,
        ),  # fmt: skip # noqa: E501
        (sa_exc.DisconnectionError("pre-ping failed"), True),
        (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"), True),
        (RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"), True),
        (sa_exc.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked")), True),
        (_operational(1205, "Lock wait timeout exceeded"), False),
        (_operational(1054, "Unknown column"), False),
        (sa_exc.IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")), False),
        (sa_exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")), False),
        (ValueError("not a database error"), False),
    ],
    ids=lambda value: (
        getattr(getattr(value, "orig", None), "args", [type(value).__name__])[0] if not isinstance(value, bool) else ""
    ),
)
def test_only_errors_that_mean_the_server_is_not_answering_are_outages(error, outage):
    assert outages.is_outage(error) is outage


# -- a transaction cut half-way --------------------------------------------------------------------------
@pytest.fixture
def refuse_audit_entries(app):
    """Call it to have the database refuse every new audit entry (a trigger): the last statement of every audited
    change then fails."""
    if backend_of(app) == "sqlite":
        create = "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); END"
    else:
        create = (
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'"
        )

    def run(statement: str) -> None:
        db.session.rollback()  # the test's own open transaction would hold the table's metadata lock
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))

    run("DROP TRIGGER IF EXISTS refuse_audit")
    yield lambda: run(create)
    run("DROP TRIGGER IF EXISTS refuse_audit")


def test_bulk_moderation_refused_at_its_last_statement_leaves_every_batch_as_it_was(app, users, refuse_audit_entries):
    post = make_post(users["author"], "published")
    ids = [make_comment(users["reader"], post, body=f"comment {n}").id for n in range(5)]
    counts, version = comment_counts.counts(), fresh(sa.select(ContentVersion.n)).scalar()
    audit_entries = fresh(sa.select(sa.func.count()).select_from(AuditLog)).scalar()
    refuse_audit_entries()
    with pytest.raises(sa_exc.DBAPIError, match="refused"):
        moderate(id_batches(ids, size=2), "approved", users["moderator"])  # three UPDATEs, then the audit entry
    db.session.rollback()
    assert fresh(sa.select(Comment.status).distinct()).scalars().all() == ["pending"]
    assert comment_counts.counts() == counts
    assert fresh(sa.select(ContentVersion.n)).scalar() == version
    assert fresh(sa.select(sa.func.count()).select_from(AuditLog)).scalar() == audit_entries


def _kill_before(statement_start: str):
    """Kill the app's own connection, from a second connection, just before it sends a statement beginning with
    `statement_start`: the server goes away mid-transaction, as when MariaDB restarts under a request."""
    killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    killed = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(statement_start) and not killed:
            thread_id = conn.connection.dbapi_connection.thread_id()
            with killer.connect() as other:
                other.execute(sa.text(f"KILL CONNECTION {int(thread_id)}"))
            killed.append(thread_id)

    return killer, killed, before


def test_a_post_whose_connection_dies_mid_save_is_not_saved_at_all_and_the_next_save_works(app, users):
    if backend_of(app) != "mariadb":
        pytest.skip("KILL CONNECTION is MariaDB's")
    editor = Browserish(app.test_client())
    editor.login(users["editor"].email)
    form = {"title": "Cut short", "body": "Body", "status": "draft", "author": users["editor"].id,
            "translations-0-locale": "zh", "translations-0-title": "中文", "translations-0-body": "正文"}  # fmt: skip
    killer, killed, before = _kill_before("INSERT INTO AUDIT_LOG")  # the post, translation and revision are sent
    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        response = editor.submit("/admin/post/new/?lang=zh", form)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
        killer.dispose()
    assert killed, "the connection was not killed: the save wrote no audit entry"
    assert response.status_code == 503
    assert_unavailable_page(response, "zh")
    for model in (Post, PostTranslation, PostRevision):
        assert fresh(sa.select(sa.func.count()).select_from(model)).scalar() == 0, model.__name__
    response = editor.submit("/admin/post/new/", form)
    assert response.status_code == 302
    assert fresh(sa.select(Post.title)).scalars().all() == ["Cut short"]
    assert fresh(sa.select(PostTranslation.title)).scalars().all() == ["中文"]


# -- MariaDB stopped and started under the app (a server of the test's own) --------------------------------
@pytest.fixture(scope="module")
def own_mariadb(tmp_path_factory):
    """A MariaDB server of this module's own, with the app's tables, an editor and a published post."""
    server = PrivateMariaDB(skip_unless_may_restart_mariadb())
    try:
        server.install()
        server.start()
        home, url = tmp_path_factory.mktemp("own-mariadb"), server.create_database("cms")
        app = make_app("mariadb", home, DATABASE_URL=url, **AS_IN_PRODUCTION)
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
            ensure_default_roles()
            editor = create_user("editor@example.com", PASSWORD, ["Editor"], username="editor")
            post = make_post(editor, "published", title="Still here", slug="still-here")
            app.config["TEST_POST_ID"], app.config["TEST_EDITOR_ID"] = post.id, editor.id
            db.session.remove()
        yield server, app
    finally:
        server.remove()


@pytest.fixture
def mariadb(own_mariadb):
    server, app = own_mariadb
    if not server.answers():
        server.start()  # a test that failed while it was stopped
    with app.app_context():
        yield server, app
        db.session.remove()


def test_requests_during_a_restart_get_the_503_and_the_first_ones_after_it_are_served(mariadb, caplog):
    server, app = mariadb
    editor, reader = Browserish(app.test_client()), Browserish(app.test_client())
    editor.login("editor@example.com")
    token = csrf_token(editor.get("/admin/post/new/").get_data(as_text=True))
    post_id = app.config["TEST_POST_ID"]
    pages = [(editor, "/admin/post/?lang=zh", "zh"), (editor, "/es/posts/still-here", "es"),
             (reader, "/zh/posts/still-here", "zh"), (reader, "/login?lang=es", "es")]  # fmt: skip
    for client, url, _ in pages:
        assert client.get(url).status_code == 200, url

    server.stop()
    for client, url, lang in pages:
        response = client.get(url)
        assert response.status_code == 503, url
        assert_unavailable_page(response, lang)
    assert_unavailable_json(reader.get(f"/api/v1/posts/{post_id}?locale=zh"))
    sent = {"csrf_token": token, "title": "Sent during the outage", "body": "x", "status": "draft",
            "author": app.config["TEST_EDITOR_ID"]}  # fmt: skip
    response = editor.post("/admin/post/new/", data=sent)
    assert response.status_code == 503
    assert_unavailable_page(response, "en")
    # The signed-in requests failed while their session was read, outside any view: one line each, no traceback.
    outage_lines = [r for r in caplog.records if r.name == "cms" and "503, OperationalError(2003" in r.getMessage()]
    assert outage_lines and all(r.exc_info is None for r in caplog.records)

    server.start()
    for client, url, _ in pages:  # the first request after the restart: the pool's dead connections are replaced
        assert client.get(url).status_code == 200, url
    assert reader.get(f"/api/v1/posts/{post_id}").get_json()["title"] == "Still here"
    assert fresh(sa.select(sa.func.count()).select_from(Post).where(Post.title == sent["title"])).scalar() == 0
    response = editor.post("/admin/post/new/", data={**sent, "title": "Sent after the outage"})
    assert response.status_code == 302, page_errors(response)
    assert fresh(sa.select(Post.title).where(Post.title == "Sent after the outage")).scalar() is not None


def test_a_transaction_open_across_a_restart_is_rolled_back_and_its_session_reconnects(mariadb):
    """A session that was mid-transaction when the server went: its next statement fails as an outage (nothing
    of the transaction survives), and after a rollback the same session works on a new connection."""
    server, app = mariadb
    db.session.execute(sa.update(Post).values(title="Changed but never committed"))
    server.stop()
    server.start()
    with pytest.raises(sa_exc.OperationalError) as raised:
        db.session.execute(sa.select(Post.title)).all()
    assert outages.is_outage(raised.value)
    db.session.rollback()
    titles = db.session.scalars(sa.select(Post.title)).all()
    assert "Still here" in titles and "Changed but never committed" not in titles


def test_gunicorn_answers_503_during_a_restart_and_200_after_it_with_the_same_workers(mariadb, tmp_path):
    """Production settings, two workers, readers requesting without pause before, during and after the restart."""
    server, app = mariadb
    post_id = app.config["TEST_POST_ID"]
    urls = ["/en/", "/zh/", "/es/posts/still-here", "/login?lang=zh", "/api/v1/posts", f"/api/v1/posts/{post_id}"]
    site = Gunicorn(tmp_path, {"CMS_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    seen: list[tuple[str, str, int, dict, str]] = []  # (phase, url, status, headers, body)
    in_flight: set[int] = set()  # ids of the requests sent before the outage and answered once it had begun
    phase = ["before"]
    stop = threading.Event()

    def read_without_pause() -> None:
        while not stop.is_set():
            for url in urls:
                asked_in = phase[0]  # the phase the request was sent in: one sent during the outage may end after it
                status, headers, body = site.get(url)
                answer = (asked_in, url, status, headers, body)
                if asked_in == "before" and phase[0] != "before":  # sent before the stop, its statements after it
                    in_flight.add(id(answer))
                seen.append(answer)

    try:
        for url in urls:
            assert site.get(url)[0] == 200, (url, site.log.read_text()[-3000:])
        workers = site.workers()
        readers = [threading.Thread(target=read_without_pause) for _ in range(3)]
        for reader in readers:
            reader.start()
        time.sleep(0.5)  # traffic before the outage
        phase[0] = "stopping"
        server.stop()
        phase[0] = "during"
        deadline = time.monotonic() + 30
        while {url for p, url, status, _, _ in seen if p == "during" and status == 503} != set(urls):
            assert not [(p, url) for p, url, status, _, _ in seen if status == 500], "500s during the outage"
            assert time.monotonic() < deadline, "not every URL answered 503 during the outage"
            time.sleep(0.1)
        phase[0] = "starting"
        server.start()
        phase[0] = "after"
        time.sleep(2)  # traffic after the outage
        stop.set()
        for reader in readers:
            reader.join(timeout=60)
        assert site.workers() == workers, "a worker was restarted"
    finally:
        stop.set()
        site.stop()

    statuses = {(answer[0], answer[2]) for answer in seen if id(answer) not in in_flight}
    assert {status for _, _, status, _, _ in seen} <= {200, 503}, sorted(statuses)
    assert {status for p, status in statuses if p in ("before", "after")} == {200}, sorted(statuses)
    assert sum(1 for p, *_ in seen if p == "after") >= len(urls)
    for _, url, status, headers, body in seen:
        if status == 503:
            assert headers["Retry-After"] == str(outages.RETRY_AFTER), url
            if url.startswith("/api/"):
                assert headers["Content-Type"] == "application/json" and '"code":503' in body, url
            else:
                assert_unavailable_page(body, "zh" if "zh" in url else "es" if "/es/" in url else "en")
    assert unexplained_tracebacks(site.log.read_text()) == []


def unexplained_tracebacks(log: str) -> list[str]:
    """The log records that carry a traceback, except SQLAlchemy's pool's "Exception during reset or similar": a
    connection whose request ended just before the server went away fails its rollback on the way back to the pool,
    which then drops it (nothing a reader sees)."""
    owners, record = [], ""
    for line in log.splitlines():
        if re.match(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):|\[\d{4}-", line):
            record = line
        elif line.startswith("Traceback (most recent call last)") and record not in owners:
            owners.append(record)
    return [owner for owner in owners if "Exception during reset or similar" not in owner]
