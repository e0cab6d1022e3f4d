"""A background export whose worker dies in the middle (SIGKILL: a restart, a deploy, out of memory), on RQ and on
the thread runner of a web process: the moderator's job page turns to failed with the reason within the stale
limit, "Run again" exports the same comments, and the file downloads. The processes are real (`flask cms worker`,
gunicorn) on the test's database; their export's progress writes after the first reach the database a long time
late, so the kill always lands in the middle, while the heartbeat keeps the slow job alive."""

import os
import signal
import time
import uuid

import pytest
import sqlalchemy as sa

from cms import comment_counts
from cms.extensions import db
from cms.models import Comment
from tests.factories import make_post
from tests.support import workers
from tests.support.exports import expected_rows, newest_first, read_csv
from tests.support.web import page_errors

STALE_AFTER = 3  # seconds; a beat every 0.75 s
ROWS = 2_100  # past the export's first chunk of 2,000 rows
REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")
WORKER_STOPPED = "The export failed: the worker running it stopped (a restart, a deploy or running out of memory)"


@pytest.fixture
def pending(app, users, monkeypatch):
    """ROWS pending comments, a background export for more than 100, and a short stale limit."""
    post = make_post(users["author"], "published", title="Busy thread")
    db.session.execute(
        sa.insert(Comment),
        [{"body": f"pending {n}", "body_html": "", "status": "pending", "author_id": users["reader"].id,
          "post_id": post.id} for n in range(ROWS)],
    )  # fmt: skip
    db.session.commit()
    comment_counts.recount()  # bulk inserts bypass the counting hooks
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 100)
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER", STALE_AFTER)


@pytest.fixture
def rq_settings(app, monkeypatch):
    """The test app and its workers on Redis, with an export queue (and cache keys) of their own, removed after."""
    if not REDIS_URL:
        pytest.skip("needs CMS_TEST_REDIS_URL (set by .ci/run)")
    from redis import Redis

    queue_name = f"test-exports-{uuid.uuid4().hex}"
    settings = {"REDIS_URL": REDIS_URL, "EXPORT_QUEUE": queue_name, "CACHE_KEY_PREFIX": f"test-{queue_name}-"}
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    yield settings
    connection = Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"*{queue_name}*"):
        connection.delete(key)


def poll(browser, status_url: str, until, seconds: float = 120) -> dict:
    """The job as the moderator's page polls it, once `until(job)` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = browser.get(status_url).get_json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job never got there: {job}")


def kill_in_the_middle_and_watch(browser, page_url: str, worker) -> None:
    """Wait until the first chunk is written, see the slow job stay alive past the stale limit, SIGKILL `worker`,
    and see the job page turn to failed within the stale limit (and not before its last beat was that old)."""
    status_url = page_url.rstrip("/") + ".json"
    job = poll(browser, status_url, lambda job: job["done"] > 0)
    assert (job["status"], job["done"], job["total"]) == ("running", 2_000, ROWS)
    alive_until = time.monotonic() + 2 * STALE_AFTER
    while time.monotonic() < alive_until:  # the second progress write is slow, the heartbeat is not
        job = browser.get(status_url).get_json()
        assert (job["status"], job["done"]) == ("running", 2_000), job
        time.sleep(0.2)

    workers.kill(worker)
    killed = time.monotonic()
    job = poll(browser, status_url, lambda job: job["status"] != "running", seconds=STALE_AFTER + 30)
    waited = time.monotonic() - killed
    assert job["status"] == "failed", job
    assert STALE_AFTER * 3 / 4 <= waited <= STALE_AFTER + 2, f"failed {waited:.2f} s after the kill"
    page = browser.get(page_url).get_data(as_text=True)
    assert WORKER_STOPPED in page
    assert 'id="export-run-again"' in page and "Run again" in page
    assert browser.get(page_url + "download").status_code == 410


def run_again(browser, page_url: str) -> str:
    """Press "Run again" on the failed job's page; the new job's page."""
    response = browser.submit(page_url, {}, post_url=page_url + "run-again")
    assert response.status_code == 302, page_errors(response)
    assert "/admin/comment/exports/" in response.location and response.location != page_url
    return response.location


def downloads_every_comment(browser, page_url: str, base_url: str = "http://localhost") -> None:
    """The job finishes, and its file holds every pending comment (post links on the site it was started from)."""
    job = poll(browser, page_url.rstrip("/") + ".json", lambda job: job["status"] in ("done", "failed"))
    assert (job["status"], job["percent"], job["done"]) == ("done", 100, ROWS), job
    rows = read_csv(browser.get(job["download_url"]).get_data())
    expected = newest_first(expected_rows("pending", base_url, labelled=True))  # the list's default order
    assert rows[1:] == [[str(cell) for cell in row] for row in expected]


def test_an_rq_worker_killed_mid_export_fails_the_job_and_run_again_exports_it(app, login_as, pending, rq_settings,
                                                                               tmp_path):  # fmt: skip
    settings = {**rq_settings, "JOB_STALE_AFTER": STALE_AFTER}
    log = tmp_path / "worker.log"
    browser = login_as("moderator")
    page_url = browser.get("/admin/comment/export/csv/?flt0_status_equals=pending").location
    slow = workers.environment(app, tmp_path / "slow", **settings)
    slow["CMS_TEST_SLOW_PROGRESS_SECONDS"] = "600"
    worker = workers.start_worker(slow, log)
    try:
        kill_in_the_middle_and_watch(browser, page_url, worker)
    finally:
        workers.kill(worker)
    assert not any(name.startswith(workers.job_id_of(page_url)) for name in os.listdir(app.config["EXPORTS_DIR"]))

    rerun_url = run_again(browser, page_url)
    burst = workers.start_worker(workers.environment(app, tmp_path / "again", **settings), log, burst=True)
    assert burst.wait(timeout=180) == 0, log.read_text()[-3000:]
    downloads_every_comment(browser, rerun_url)


def test_a_web_process_killed_mid_export_fails_its_thread_job_and_run_again_exports_it(
    app, login_as, pending, tmp_path
):
    env = workers.environment(app, tmp_path / "web", EXPORT_ASYNC_ROWS=100, JOB_STALE_AFTER=STALE_AFTER)
    env["CMS_TEST_SLOW_PROGRESS_SECONDS"] = "600"
    web, base = workers.start_web(env, tmp_path / "gunicorn.log")
    try:
        started = workers.signed_in(base, "moderator@example.com").get(
            f"{base}/admin/comment/export/csv/?flt0_status_equals=pending", allow_redirects=False, timeout=60
        )
        assert started.status_code == 302, started.text[:2000]
        page_url = f"/admin/comment/exports/{workers.job_id_of(started.headers['Location'])}/"
        # The moderator keeps watching through another instance: the one killed serves nobody.
        kill_in_the_middle_and_watch(login_as("moderator"), page_url, web)
    finally:
        workers.kill(web)
    browser = login_as("moderator")
    downloads_every_comment(browser, run_again(browser, page_url), base)


def test_a_graceful_restart_fails_the_thread_jobs_of_the_web_process_at_once(app, login_as, pending, tmp_path):
    """gunicorn stopped as a deploy stops it (SIGTERM): the export its worker was running is failed as the process
    exits, not a stale limit later (the limit here is ten minutes)."""
    app.config["JOB_STALE_AFTER"] = 600
    env = workers.environment(app, tmp_path / "web", EXPORT_ASYNC_ROWS=100, JOB_STALE_AFTER=600)
    env["CMS_TEST_SLOW_PROGRESS_SECONDS"] = "600"
    web, base = workers.start_web(env, tmp_path / "gunicorn.log")
    try:
        started = workers.signed_in(base, "moderator@example.com").get(
            f"{base}/admin/comment/export/csv/?flt0_status_equals=pending", allow_redirects=False, timeout=60
        )
        page_url = f"/admin/comment/exports/{workers.job_id_of(started.headers['Location'])}/"
        browser = login_as("moderator")
        poll(browser, page_url.rstrip("/") + ".json", lambda job: job["done"] > 0)
        workers.kill(web, signal.SIGTERM)
    finally:
        workers.kill(web)
    job = browser.get(page_url.rstrip("/") + ".json").get_json()
    assert (job["status"], job["done"]) == ("failed", 2_000), job
    assert WORKER_STOPPED in browser.get(page_url).get_data(as_text=True)


def test_a_worker_stopped_cold_fails_its_job_at_once(app, login_as, pending, rq_settings, monkeypatch, tmp_path):
    """`flask cms worker` asked twice to stop (the second time is RQ's cold shutdown) fails its running export as
    it stops, not a stale limit later (the limit here is ten minutes)."""
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER", 600)
    env = workers.environment(app, tmp_path / "slow", **rq_settings, JOB_STALE_AFTER=600)
    env["CMS_TEST_SLOW_PROGRESS_SECONDS"] = "600"
    browser = login_as("moderator")
    status_url = browser.get("/admin/comment/export/csv/?flt0_status_equals=pending").location.rstrip("/") + ".json"
    worker = workers.start_worker(env, tmp_path / "worker.log")
    try:
        poll(browser, status_url, lambda job: job["done"] > 0)
        os.killpg(worker.pid, signal.SIGTERM)  # warm: RQ would let the job finish
        time.sleep(1.5)  # RQ ignores a second signal within a second of the first
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=60) != -signal.SIGKILL
    finally:
        workers.kill(worker)
    job = browser.get(status_url).get_json()
    assert (job["status"], job["done"]) == ("failed", 2_000), job
    assert job["error"] == WORKER_STOPPED.removeprefix("The export failed: ")
