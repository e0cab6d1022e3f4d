"""A mail worker killed in the middle of sending (SIGKILL: a restart, a deploy, out of memory), on RQ (`flask cms
worker`) and on the thread of a web process (gunicorn): once restarted, every mail goes out, none is lost and none
twice. The processes are real, on the test's database, sending to a real SMTP server (tests.support.smtp) that
holds the worker at the start of a message once some went out, so the kill always lands in the middle; the mail
the dead worker had claimed goes back to the queue when its heartbeat is JOB_STALE_AFTER old."""

import os
import time
import uuid

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import MailStatus, OutgoingMail
from tests.support import workers
from tests.support.database import fresh
from tests.support.smtp import SmtpSink

STALE_AFTER = 3  # seconds; a beat every 0.75 s
MAILS = 8
SENT_BEFORE_THE_KILL = 3
REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")


@pytest.fixture
def queued(app):
    """MAILS mails waiting in the outbox; their recipients."""
    recipients = [f"person{n}@example.com" for n in range(MAILS)]
    db.session.add_all(
        OutgoingMail(kind="notice", recipient=to, sender="no-reply@cms.localhost", subject=f"Hello {to}",
                     body="Hello\n", status=MailStatus.QUEUED)
        for to in recipients
    )  # fmt: skip
    db.session.commit()
    return recipients


@pytest.fixture
def sink():
    with SmtpSink() as server:
        server.hold_after = SENT_BEFORE_THE_KILL
        yield server


def statuses() -> dict[str, int]:
    rows = fresh(sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)).all()
    return dict(rows)  # type: ignore[arg-type]


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return result


def kill_while_held_then_release(sink, process) -> None:
    """Once the worker is held at the start of a message, kill it; the mail it claimed stays "sending"."""
    assert sink.holding.wait(timeout=120), "the worker never started sending"
    workers.kill(process)
    assert statuses() == {"sent": SENT_BEFORE_THE_KILL, "sending": MAILS - SENT_BEFORE_THE_KILL}
    assert len(sink.received) == SENT_BEFORE_THE_KILL
    sink.hold_after = None
    sink.released.set()


def every_mail_went_out_once(sink, recipients: list[str], restarted: float) -> None:
    wait_for(lambda: statuses() == {"sent": MAILS}, 60, f"not every mail was sent: {statuses()}")
    waited = time.monotonic() - restarted
    assert waited <= STALE_AFTER + 30, f"the dead worker's mail waited {waited:.1f} s"
    assert sorted(sink.recipients()) == sorted(recipients), "each mail exactly once"
    attempts = sorted(fresh(sa.select(OutgoingMail.attempts)).scalars())
    assert attempts == [1] * SENT_BEFORE_THE_KILL + [2] * (MAILS - SENT_BEFORE_THE_KILL), "the claimed mail was retried"


def test_an_rq_worker_killed_mid_sending_loses_no_mail_and_sends_none_twice(app, queued, sink, tmp_path):
    if not REDIS_URL:
        pytest.skip("needs CMS_TEST_REDIS_URL (set by .ci/run)")
    from redis import Redis

    run = uuid.uuid4().hex
    settings = {**sink.settings(), "REDIS_URL": REDIS_URL, "MAIL_WORKER": "rq", "JOB_STALE_AFTER": STALE_AFTER,
                "MAIL_QUEUE": f"test-mail-{run}", "EXPORT_QUEUE": f"test-exports-{run}",
                "CACHE_KEY_PREFIX": f"test-{run}-"}  # fmt: skip
    log = tmp_path / "worker.log"
    first = workers.start_worker(workers.environment(app, tmp_path / "first", **settings), log)
    try:
        kill_while_held_then_release(sink, first)
    finally:
        workers.kill(first)
    restarted = time.monotonic()
    second = workers.start_worker(workers.environment(app, tmp_path / "second", **settings), log)
    try:
        every_mail_went_out_once(sink, queued, restarted)
    finally:
        workers.kill(second)
        connection = Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"*{run}*"):
            connection.delete(key)


def test_a_web_process_killed_mid_sending_loses_no_mail_and_sends_none_twice(app, queued, sink, tmp_path):
    settings = {**sink.settings(), "MAIL_WORKER": "thread", "JOB_STALE_AFTER": STALE_AFTER}
    env = workers.environment(app, tmp_path / "web", **settings)
    first, _ = workers.start_web(env, tmp_path / "first.log")  # its first request wakes the mail thread
    try:
        kill_while_held_then_release(sink, first)
    finally:
        workers.kill(first)
    restarted = time.monotonic()
    second, _ = workers.start_web(env, tmp_path / "second.log")
    try:
        every_mail_went_out_once(sink, queued, restarted)
    finally:
        workers.kill(second)
