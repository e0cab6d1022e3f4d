"""Background exports: the RQ entry point runs a job in the app it finds or builds one, the finished file is
offered for a day, and expired files and their jobs are purged; a job whose worker is gone, that no worker
started, or that ran too long is failed by whoever looks, at its limit and not a second before; a failed job
runs again as a new one."""

import contextvars
import json
import os
import uuid
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
import time_machine

import worker
from cms import leases
from cms.exports import ExportError, jobs
from cms.extensions import db
from cms.models import AuditLog, ExportJob, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import ENGLISH_HEADER, expected_rows, read_csv
from tests.support.instances import REDIS_URL
from tests.support.outages import app_beside


@pytest.fixture
def job(users):
    """A csv export of the 4 approved comments (of 6), recorded and not yet run."""
    post = make_post(users["author"], "published", title="Story")
    for n in range(6):
        make_comment(users["reader"], post, body=f"comment {n}", status="approved" if n % 3 else "pending")
    row = ExportJob(id=uuid.uuid4().hex, user_id=users["moderator"].id, format="csv", locale="en", total=4,
                    selection=json.dumps({"status": "approved", "base_url": "http://localhost/"}))  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row.id


def finished(job_id: str) -> ExportJob:
    return fresh(sa.select(ExportJob).where(ExportJob.id == job_id)).scalar_one()


def test_worker_entry_point_runs_the_job_in_the_current_app(app, job):
    worker.run_export_job(job)
    done = finished(job)
    assert (done.status, done.done, done.total, done.percent) == ("done", 4, 4, 100)
    rows = read_csv(jobs.download_path(done).read_bytes())
    assert rows[0] == ENGLISH_HEADER
    assert rows[1:] == [[str(cell) for cell in row] for row in expected_rows("approved", labelled=True)]


def test_worker_entry_point_builds_the_app_when_there_is_none(app, job, monkeypatch):
    """A plain `rq worker` has no app context: the entry point builds the app from CMS_… variables."""
    monkeypatch.setenv("CMS_DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("CMS_EXPORTS_DIR", app.config["EXPORTS_DIR"])
    monkeypatch.setenv("CMS_SECRET_KEY", "testing-secret-key")
    contextvars.Context().run(worker.run_export_job, job)
    done = finished(job)
    assert (done.status, done.done) == ("done", 4)
    assert len(read_csv(jobs.download_path(done).read_bytes())) == 5


def test_finished_file_is_offered_until_it_expires_then_purged(app, job):
    worker.run_export_job(job)
    done = finished(job)
    path = jobs.download_path(done)
    assert path is not None and path.exists()
    assert jobs.purge_expired() == 0 and path.exists()
    done.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert jobs.download_path(done) is None
    assert jobs.purge_expired() == 1
    assert not path.exists()
    assert fresh(sa.select(ExportJob)).first() is None


def test_deleting_an_account_removes_its_export_files_and_nothing_else(app, users, login_as, job):
    """The account's jobs went with it (ON DELETE CASCADE), and their files, every exported comment with its
    author's address, stayed for good: the purge only looked at the files of jobs still there."""
    worker.run_export_job(job)
    path = jobs.download_path(finished(job))
    folder = path.parent
    kept = [folder / "notes.txt", folder / f"{uuid.uuid4().hex}.pdf"]
    for other in kept:
        other.write_text("not an export")
    owner = finished(job).user_id
    admin = login_as("administrator")
    response = admin.post("/admin/user/delete/", data={"id": str(owner), "csrf_token": admin.csrf()})
    assert response.status_code == 302 and fresh(sa.select(ExportJob)).first() is None
    assert not path.exists() and all(other.exists() for other in kept)


def test_the_purge_removes_files_whose_job_is_gone(app, job):
    worker.run_export_job(job)
    path = jobs.download_path(finished(job))
    db.session.execute(sa.delete(ExportJob))
    db.session.commit()
    assert path.exists() and jobs.purge_expired() == 0 and not path.exists()


def test_unfinished_job_offers_no_file(app, job):
    assert jobs.download_path(finished(job)) is None


def test_a_file_is_offered_for_exactly_its_lifetime_and_purged_a_second_later(app, job):
    start = utcnow().replace(microsecond=0)
    with time_machine.travel(start.replace(tzinfo=UTC), tick=False) as clock:
        worker.run_export_job(job)
        path = jobs.download_path(finished(job))
        clock.shift(jobs.FILE_LIFETIME)
        assert jobs.download_path(finished(job)) == path and jobs.purge_expired() == 0
        clock.shift(timedelta(seconds=1))
        assert jobs.download_path(finished(job)) is None and jobs.purge_expired() == 1
    assert not path.exists() and fresh(sa.select(ExportJob)).first() is None


# -- leases: a job whose worker is gone is failed by whoever looks --------------------------------------------
def running_since(job_id: str, start) -> str:
    """Claim the job at `start` as a worker would; its lease token."""
    with time_machine.travel(start.replace(tzinfo=UTC), tick=False):
        token = leases.claim(jobs.EXPORTS, job_id)
    assert token
    return token


def state(job_id: str) -> tuple:
    row = finished(job_id)
    return row.status, jobs.failure_reason(row)


def test_a_heartbeat_exactly_stale_after_old_keeps_the_job_and_a_second_more_fails_it(app, job):
    start = utcnow().replace(microsecond=0)
    running_since(job, start)
    partial = jobs.exports_dir() / f"{job}.csv"
    partial.write_text("half a file")
    stale = timedelta(seconds=app.config["JOB_STALE_AFTER"])
    with time_machine.travel((start + stale).replace(tzinfo=UTC), tick=False) as clock:
        assert jobs.fail_stale_jobs() == [] and state(job) == ("running", None)
        clock.shift(timedelta(seconds=1))
        assert jobs.fail_stale_jobs() == [job]
    assert state(job) == ("failed", "the worker running it stopped (a restart, a deploy or running out of memory)")
    assert not partial.exists()
    assert finished(job).expires_at == start + stale + timedelta(seconds=1) + jobs.FILE_LIFETIME


def test_a_queued_job_fails_after_start_within_when_no_worker_runs_anything(app, job):
    created = finished(job).created_at
    wait = timedelta(seconds=app.config["JOB_START_WITHIN"])
    with time_machine.travel((created + wait).replace(tzinfo=UTC), tick=False) as clock:
        assert jobs.fail_stale_jobs() == [] and state(job) == ("queued", None)
        clock.shift(timedelta(seconds=1))
        assert jobs.fail_stale_jobs() == [job]
    assert state(job) == ("failed", "no worker started it within 5 minutes; check that `flask cms worker` runs")


def test_a_queued_job_waits_for_a_busy_worker_however_long(app, job, users):
    busy = ExportJob(id=uuid.uuid4().hex, user_id=users["moderator"].id, format="csv", selection="{}", total=9)
    db.session.add(busy)
    db.session.commit()
    created = finished(job).created_at
    token = running_since(busy.id, created)
    later = created + timedelta(seconds=app.config["JOB_START_WITHIN"] + 600)
    with time_machine.travel(later.replace(tzinfo=UTC), tick=False):
        leases.renew(jobs.EXPORTS, busy.id, token)  # the worker is alive, exporting `busy`
        assert jobs.fail_stale_jobs() == []
    assert state(job) == ("queued", None) and state(busy.id) == ("running", None)


def test_a_job_running_exactly_its_timeout_keeps_going_and_a_second_more_fails_it(app, job):
    start = utcnow().replace(microsecond=0)
    token = running_since(job, start)
    limit = timedelta(seconds=app.config["EXPORT_JOB_TIMEOUT"])
    with time_machine.travel((start + limit).replace(tzinfo=UTC), tick=False) as clock:
        leases.renew(jobs.EXPORTS, job, token, done=ExportJob.done + 1)
        assert jobs.fail_stale_jobs() == [] and state(job) == ("running", None)
        clock.shift(timedelta(seconds=1))
        leases.renew(jobs.EXPORTS, job, token, done=ExportJob.done + 1)  # still beating: not a dead worker
        assert jobs.fail_stale_jobs() == [job]
    assert state(job) == ("failed", "it ran longer than its limit of 2 hours")


def test_a_worker_that_lost_its_job_leaves_it_failed_and_no_file(app, job):
    """A worker only slow (paused past the stale limit) finds its job failed: it stops and changes nothing."""
    start = utcnow().replace(microsecond=0)
    token = running_since(job, start)
    with time_machine.travel((start + timedelta(minutes=5)).replace(tzinfo=UTC), tick=False):
        assert jobs.fail_stale_jobs() == [job]
    with pytest.raises(leases.LeaseLost):
        leases.renew(jobs.EXPORTS, job, token, done=ExportJob.done + 4)
    assert not leases.finish(jobs.EXPORTS, job, token, "done", done=4)
    assert (finished(job).status, finished(job).done) == ("failed", 0)


def test_a_job_is_claimed_by_one_worker_only(app, job):
    worker.run_export_job(job)
    assert leases.claim(jobs.EXPORTS, job) is None
    worker.run_export_job(job)  # RQ delivering it twice: nothing happens
    done = finished(job)
    assert (done.status, done.done) == ("done", 4)


@pytest.mark.skipif(not os.environ.get("CMS_TEST_REDIS_URL"), reason="needs CMS_TEST_REDIS_URL (set by .ci/run)")
def test_rq_stops_an_export_a_minute_after_its_timeout(app, job, monkeypatch):
    from redis import Redis
    from rq import Queue

    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["CMS_TEST_REDIS_URL"])
    monkeypatch.setitem(app.config, "EXPORT_QUEUE", f"test-exports-{uuid.uuid4().hex}")
    monkeypatch.setitem(app.config, "EXPORT_JOB_TIMEOUT", 1234)
    jobs.start_export(finished(job))
    queue = Queue(app.config["EXPORT_QUEUE"], connection=Redis.from_url(app.config["REDIS_URL"]))
    try:
        (queued,) = queue.get_jobs()
        assert (queued.func_name, queued.args, queued.timeout) == ("worker.run_export_job", (job,), 1294)
    finally:
        queue.delete(delete_jobs=True)


# -- run again ---------------------------------------------------------------------------------------------
def failed_job(job_id: str) -> ExportJob:
    token = running_since(job_id, utcnow())
    leases.fail(jobs.EXPORTS, job_id, token, leases.STOPPED)
    return finished(job_id)


def test_run_again_makes_a_new_job_of_the_same_export_audited_once(app, job, users, login_as):
    """An administrator runs a moderator's failed export again: the new job is still the moderator's (it was the
    administrator's, and the moderator's own page led to a job they could not open)."""
    old = failed_job(job)
    rerun, made = jobs.run_again(users["administrator"], old)
    assert made and rerun.id != job
    assert (rerun.user_id, rerun.format, rerun.locale, rerun.total) == (users["moderator"].id, "csv", "en", 4)
    assert login_as("moderator").get(f"/admin/comment/exports/{rerun.id}/").status_code == 200
    same = {key: value for key, value in json.loads(rerun.selection).items() if value is not None}
    assert same == json.loads(old.selection) == {"status": "approved", "base_url": "http://localhost/"}
    exports_audited = sa.select(AuditLog.summary).where(AuditLog.action == "export")
    assert fresh(exports_audited).scalars().all() == [
        f"4 comments as csv (background job {rerun.id}, run again of {job})"
    ]
    again, made = jobs.run_again(users["moderator"], finished(job))
    assert (again.id, made) == (rerun.id, False)
    assert len(fresh(exports_audited).all()) == 1


@pytest.mark.parametrize("status", ["queued", "running", "done"])
def test_only_a_failed_job_runs_again(app, job, users, status):
    db.session.execute(sa.update(ExportJob).values(status=status))
    db.session.commit()
    with pytest.raises(ExportError, match="Only a failed export can be run again"):
        jobs.run_again(users["moderator"], finished(job))
    assert fresh(sa.select(sa.func.count()).select_from(ExportJob)).scalar() == 1


@pytest.mark.parametrize("length", [460, 461], ids=["fits", "one-more"])
def test_a_failure_keeps_500_characters_of_its_error(app, job, length):
    """An unreadable date of `length` characters makes a ValueError whose text is 40 characters more."""
    db.session.execute(sa.update(ExportJob).values(selection=json.dumps({"created_from": "x" * length})))
    db.session.commit()
    worker.run_export_job(job)
    whole = f"ValueError: Invalid isoformat string: '{'x' * length}'"
    assert (len(whole), finished(job).status, finished(job).error) == (length + 40, "failed", whole[:500])


# -- what a job meets before it writes, and what dead exports left ----------------------------------------------
def test_an_exports_folder_that_cannot_be_made_fails_the_job_with_the_reason(app, job, tmp_path, monkeypatch):
    """The job's file path is found after it is claimed: a failure there fails the job, never leaves it running."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setitem(app.config, "EXPORTS_DIR", str(blocker / "exports"))
    worker.run_export_job(job)
    failed = finished(job)
    assert failed.status == "failed"
    assert jobs.failure_reason(failed) == (
        "ExportError: The export was not written: the exports folder cannot be written to. Tell an administrator."
    )


def test_an_unreadable_selection_fails_the_job_with_the_reason(app, job):
    db.session.execute(sa.update(ExportJob).values(selection="{not json"))
    db.session.commit()
    worker.run_export_job(job)
    assert state(job)[0] == "failed" and state(job)[1].startswith("JSONDecodeError: ")


@pytest.mark.parametrize("name", [".export-abc123.csv", ".export-def456.xlsx", f"{'f' * 32}.csv.part"])
def test_a_temporary_file_is_swept_once_its_last_write_is_the_lifetime_old_and_kept_a_second_younger(
    app, job, name, monkeypatch
):
    monkeypatch.setitem(app.config, "EXPORT_TEMPORARY_LIFETIME", 600)
    folder = jobs.exports_dir()
    left, kept = folder / name, folder / "0123.csv"  # a finished job's file is the job's to purge, not the sweep's
    left.write_text("half")
    kept.write_text("whole")
    now = utcnow().replace(microsecond=0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        os.utime(left, (now.timestamp() - 599, now.timestamp() - 599))
        os.utime(kept, (now.timestamp() - 10**6, now.timestamp() - 10**6))
        assert jobs.purge_expired() == 0 and left.exists()
        os.utime(left, (now.timestamp() - 600, now.timestamp() - 600))
        assert jobs.purge_expired() == 0 and not left.exists()
    assert kept.exists()


@pytest.mark.skipif(not REDIS_URL, reason="flask cms worker needs Redis (CMS_TEST_REDIS_URL)")
def test_the_worker_sweeps_temporary_files_when_it_starts(app, tmp_path):
    settings = {"REDIS_URL": REDIS_URL, "EXPORT_QUEUE": f"test-exports-{uuid.uuid4().hex[:12]}"}
    with app_beside(app, tmp_path, EXPORT_TEMPORARY_LIFETIME=0, **settings) as other:
        with other.app_context():  # the command's app: the test's own is current otherwise
            left = jobs.exports_dir() / ".export-left.csv"
            left.write_text("half")
            result = other.test_cli_runner().invoke(args=["cms", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert not left.exists()
