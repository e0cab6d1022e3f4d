"""Background exports: the RQ entry point runs a job in the app it finds or builds one, the finished file is
offered for a day, and expired files and their jobs are purged."""

import contextvars
import json
import uuid
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
import time_machine

import worker
from cms.exports import jobs
from cms.extensions import db
from cms.models import ExportJob, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import ENGLISH_HEADER, expected_rows, read_csv


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
    assert rows[1:] == [[str(cell) for cell in row] for row in expected_rows("approved")]


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
