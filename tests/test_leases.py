"""Leases on background work (cms/leases.py), on the export jobs' table: the heartbeat thread keeps a busy worker's
claim alive on its own connection, a claim failed meanwhile is lost for good, and the reasons read as a person
would read them. Its use by the exports, at each limit, is in tests/exports/test_jobs.py; workers killed for real
are in tests/exports/test_worker_deaths.py."""

import json
import time
import uuid

import pytest
import sqlalchemy as sa

from cms import leases
from cms.exports.jobs import EXPORTS
from cms.extensions import db
from cms.models import ExportJob
from tests.support.database import fresh


@pytest.fixture
def claimed(app, users):
    """A queued export job claimed by this worker: (its id, the lease token)."""
    job = ExportJob(id=uuid.uuid4().hex, user_id=users["moderator"].id, format="csv", total=1,
                    selection=json.dumps({"status": "pending"}))  # fmt: skip
    db.session.add(job)
    db.session.commit()
    return job.id, leases.claim(EXPORTS, job.id)


def heartbeat_of(job_id: str):
    return fresh(sa.select(ExportJob.heartbeat_at).where(ExportJob.id == job_id)).scalar_one()


def wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.02)


def test_the_heartbeat_beats_from_its_own_thread_while_the_work_is_busy(claimed):
    job_id, token = claimed
    beats = [heartbeat_of(job_id)]
    with leases.Heartbeat(EXPORTS, job_id, token, interval=0.05) as heartbeat:
        for _ in range(3):  # the work is stuck in one long step here: it never renews
            wait_until(lambda: heartbeat_of(job_id) > beats[-1])
            beats.append(heartbeat_of(job_id))
    assert not heartbeat.lost.is_set() and len(set(beats)) == 4
    stopped = heartbeat_of(job_id)
    assert fresh(sa.select(ExportJob.status)).scalar_one() == "running"
    assert not heartbeat._thread.is_alive() and heartbeat_of(job_id) == stopped


def test_a_heartbeat_that_finds_its_claim_failed_stops_and_the_work_learns_it(claimed):
    job_id, token = claimed
    with leases.Heartbeat(EXPORTS, job_id, token, interval=0.05) as heartbeat:
        db.session.execute(sa.update(ExportJob).values(status="failed", error=leases.STOPPED))
        db.session.commit()  # as a reader does who found the heartbeat stale
        assert heartbeat.lost.wait(timeout=30)
        with pytest.raises(leases.LeaseLost):
            leases.renew(EXPORTS, job_id, token)
    row = fresh(sa.select(ExportJob)).scalar_one()
    assert (row.status, row.error) == ("failed", leases.STOPPED)


def test_a_second_claim_of_the_same_row_gets_nothing(claimed):
    job_id, token = claimed
    assert token and leases.claim(EXPORTS, job_id) is None
    assert fresh(sa.select(ExportJob.lease_token)).scalar_one() == token


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (leases.STOPPED, "the worker running it stopped (a restart, a deploy or running out of memory)"),
        (f"{leases.NOT_STARTED}:300", "no worker started it within 5 minutes; check that `flask cms worker` runs"),
        (f"{leases.TIMED_OUT}:7200", "it ran longer than its limit of 2 hours"),
        (f"{leases.TIMED_OUT}:3", "it ran longer than its limit of 3 seconds"),
        ("ValueError: Invalid isoformat string: 'x'", "ValueError: Invalid isoformat string: 'x'"),
        (None, None),
    ],
)
def test_a_reason_reads_as_a_sentence_and_other_errors_stay_as_they_are(app, error, shown):
    assert leases.reason_text(error) == shown
