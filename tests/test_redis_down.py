"""Redis not answering: readers' pages and the API keep being served (the shared page cache is off meanwhile, and
back by itself when Redis is), signing in is the 503 page (sessions live in Redis), and a background export says
plainly that it cannot start."""

import re
import threading
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from cms import outages
from cms.comments import CommentSelection
from cms.exports import ExportError, deliver
from cms.extensions import cache, db
from cms.models import AuditLog, ExportJob, ExportStatus, User
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.outages import ClosingServer, PrivateRedis, SilentServer, app_beside, files_under, free_port
from tests.support.web import Browserish


@pytest.fixture
def story(users):
    post = make_post(users["author"], "published", title="Served without Redis", slug="served")
    make_comment(users["reader"], post, body="A comment", status="pending")
    return post


def backend_of_cache(app):
    """The app's Flask-Caching backend (cms.outages.TolerantRedisCache when REDIS_URL is set)."""
    return app.extensions["cache"][cache]


def test_readers_pages_and_the_api_are_served_while_redis_does_not_answer(app, story, tmp_path):
    with app_beside(app, tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as gone:
        reader = Browserish(gone.test_client())
        for url in ["/en/", "/en/posts/served", "/zh/posts/served", f"/api/v1/posts/{story.id}", "/en/"]:
            response = reader.get(url)
            assert response.status_code == 200, url
            assert "Served without Redis" in response.get_data(as_text=True), url


def test_signing_in_while_redis_does_not_answer_gets_the_503_page(app, users, tmp_path):
    """Sessions live in Redis when it is configured (cms/sessions.py): without it nobody can sign in, and a
    signed-in page cannot be read. That is the 503 page, in the reader's language, never a 500."""
    server = PrivateRedis()
    server.start()
    try:
        settings = {"REDIS_URL": server.url, "PROPAGATE_EXCEPTIONS": False}  # answered as in production
        with app_beside(app, tmp_path, **settings) as site:
            editor, newcomer = Browserish(site.test_client()), Browserish(site.test_client())
            editor.login(users["editor"].email)
            assert editor.get("/admin/post/?lang=zh").status_code == 200
            server.stop()
            for client, url, lang in [(editor, "/admin/post/?lang=zh", "zh"), (newcomer, "/login?lang=es", "es")]:
                response = client.get(url)
                assert response.status_code == 503, url
                assert response.headers["Retry-After"] == str(outages.RETRY_AFTER)
                html = response.get_data(as_text=True)
                assert f'<html lang="{lang}">' in html and "Traceback" not in html
    finally:
        server.stop()


def test_a_background_export_while_redis_does_not_answer_is_refused_plainly(app, users, story, login_as, tmp_path):
    settings = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "EXPORT_ASYNC_ROWS": 0}
    with app_beside(app, tmp_path, **settings) as gone, gone.app_context():
        moderator = db.session.get(User, users["moderator"].id)
        with pytest.raises(ExportError, match="Background exports cannot start just now"):
            deliver(moderator, CommentSelection(status="pending"), "csv", locale="en", base_url="http://localhost/")
    [job] = fresh(sa.select(ExportJob)).scalars().all()
    assert job.status == ExportStatus.FAILED and "job queue did not answer" in job.error
    assert job.finished_at is not None
    assert files_under(tmp_path / "exports") == []
    summaries = fresh(sa.select(AuditLog.summary).where(AuditLog.action == "export")).scalars().all()
    assert summaries == [f"1 comments as csv (background job {job.id})"]
    moderator_page = login_as("moderator")
    assert "job queue did not answer" in moderator_page.get(f"/admin/comment/exports/{job.id}/").get_data(as_text=True)
    assert moderator_page.get(f"/admin/comment/exports/{job.id}/download").status_code == 410


def test_after_redis_fails_each_worker_leaves_it_alone_for_retry_after_seconds(app, story, tmp_path):
    closing = ClosingServer()  # a Redis going away: every connection is accepted and closed at once
    settings = {"REDIS_URL": f"redis://127.0.0.1:{closing.port}/0", "REDIS_RETRY_AFTER": 5.0}
    try:
        with app_beside(app, tmp_path, **settings) as flaky:
            now = [1000.0]
            backend_of_cache(flaky).clock = lambda: now[0]
            reader = Browserish(flaky.test_client())
            assert reader.get("/en/").status_code == 200
            asked = closing.connections
            assert asked >= 1
            now[0] = 1004.999
            assert reader.get("/en/posts/served").status_code == 200
            assert closing.connections == asked  # left alone
            now[0] = 1005.0
            assert reader.get("/en/").status_code == 200
            assert closing.connections > asked  # asked again, exactly REDIS_RETRY_AFTER after the failure
    finally:
        closing.close()


def test_the_shared_cache_is_used_again_once_redis_answers(app, story, tmp_path):
    server = PrivateRedis()
    server.start()
    try:
        with app_beside(app, tmp_path, REDIS_URL=server.url, REDIS_RETRY_AFTER=5.0) as site:
            now = [1000.0]
            backend_of_cache(site).clock = lambda: now[0]
            reader = Browserish(site.test_client())
            assert reader.get("/en/posts/served").status_code == 200
            assert redis.Redis.from_url(server.url).dbsize() > 0  # the page went to Redis

            server.stop()
            assert reader.get("/en/posts/served").status_code == 200
            server.start()  # empty: nothing was saved
            now[0] = 1004.9
            assert reader.get("/en/posts/served").status_code == 200
            assert redis.Redis.from_url(server.url).dbsize() == 0  # not asked yet
            now[0] = 1005.0
            response = reader.get("/en/posts/served")
            assert response.status_code == 200 and "Served without Redis" in response.get_data(as_text=True)
            assert redis.Redis.from_url(server.url).dbsize() > 0  # pages are cached in Redis again
    finally:
        server.stop()


def test_a_redis_that_never_answers_holds_a_page_up_for_no_more_than_its_timeout(app, story, tmp_path):
    silent = SilentServer()
    served = {}
    try:
        with app_beside(app, tmp_path, REDIS_URL=f"redis://127.0.0.1:{silent.port}/0", REDIS_TIMEOUT=0.2) as hung:

            def read() -> None:
                served["response"] = Browserish(hung.test_client()).get("/en/posts/served")

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            reader.join(timeout=60)  # without the timeout the page would wait for Redis for ever
            assert not reader.is_alive(), "the page waited for a Redis that never answers"
    finally:
        silent.close()
    assert served["response"].status_code == 200
    assert "Served without Redis" in served["response"].get_data(as_text=True)


def test_a_redis_that_never_answers_holds_sessions_and_the_export_queue_up_for_no_more_than_its_timeout(
    app, users, story, tmp_path
):
    """Sessions, the export queue and `flask cms worker` take their Redis client from `outages.redis_client`,
    which waits REDIS_TIMEOUT for an answer: without it the sign-in page and the export would wait for ever."""
    silent = SilentServer()
    outcome: dict = {}
    settings = {"REDIS_URL": f"redis://127.0.0.1:{silent.port}/0", "REDIS_TIMEOUT": 0.2, "EXPORT_ASYNC_ROWS": 0}
    try:
        with app_beside(app, tmp_path, PROPAGATE_EXCEPTIONS=False, **settings) as hung:

            def sign_in_page() -> None:
                outcome["login"] = Browserish(hung.test_client()).get("/login")

            def export() -> None:
                with hung.app_context():
                    moderator = db.session.get(User, users["moderator"].id)
                    try:
                        deliver(moderator, CommentSelection(status="pending"), "csv", locale="en", base_url="/")
                    except ExportError as error:
                        outcome["export"] = str(error)

            def ping() -> None:
                try:
                    outages.redis_client(hung.config).ping()
                except redis.TimeoutError:
                    outcome["ping"] = "timed out"

            for work in (sign_in_page, export, ping):
                thread = threading.Thread(target=work, daemon=True)
                thread.start()
                thread.join(timeout=60)
                assert not thread.is_alive(), f"{work.__name__} waited for a Redis that never answers"
    finally:
        silent.close()
    assert outcome["login"].status_code == 503
    assert outcome["export"].startswith("Background exports cannot start just now")
    assert outcome["ping"] == "timed out"


def test_no_module_makes_a_redis_client_but_the_factory():
    """A client made elsewhere would have no timeouts: `cms.outages.redis_client` is the one place (Flask-Caching
    and Flask-Limiter make theirs from CACHE_OPTIONS and RATELIMIT_STORAGE_OPTIONS, both with timeouts)."""
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("cms/**/*.py"), *root.glob("admin_views/*.py"), root / "worker.py"]
    makers = re.compile(r"\bRedis(?:\.from_url)?\(|StrictRedis\(")
    found = [str(p.relative_to(root)) for p in sources if makers.search(p.read_text()) and p.name != "outages.py"]
    assert found == []
