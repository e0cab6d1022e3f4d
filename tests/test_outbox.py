"""The outbox (cms/outbox.py): mail is written with its change and only with it, sent over a real SMTP server
(tests.support.smtp), tried again after a backoff that doubles, failed for good after MAIL_MAX_ATTEMPTS or at a
permanent refusal, and a claim whose worker died goes back to the queue after JOB_STALE_AFTER. Workers killed for
real are in tests/test_outbox_workers.py."""

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms import leases, outbox
from cms.extensions import db
from cms.models import MailStatus, OutgoingMail, utcnow
from tests.support.mail import outbox_rows, sent_mail
from tests.support.smtp import SmtpSink
from tests.support.web import Browserish

START = datetime(2026, 6, 1, 12, 0, 0)


@pytest.fixture
def sink(app, monkeypatch):
    with SmtpSink() as server:
        for name, value in server.settings().items():
            monkeypatch.setitem(app.config, name, value)
        yield server


def queue(recipient: str = "ann@example.com", subject: str = "Hello") -> int:
    mail = outbox.queue_mail("notice", recipient, subject, f"Dear {recipient}\n")
    db.session.commit()
    return mail.id


def state(mail_id: int) -> tuple:
    row = db.session.get(OutgoingMail, mail_id, populate_existing=True)
    db.session.rollback()
    return row.status, row.attempts


def test_a_mail_is_committed_with_its_change_and_a_rolled_back_change_sends_nothing(app, users):
    users["reader"].name = "Changed"
    outbox.queue_mail("notice", "reader@example.com", "About your change", "It changed.\n")
    db.session.rollback()
    assert outbox_rows() == [] and sent_mail(app) == []

    users["reader"].name = "Changed"
    outbox.queue_mail("notice", "reader@example.com", "About your change", "It changed.\n")
    db.session.commit()
    assert [(row.recipient, row.status) for row in outbox_rows()] == [("reader@example.com", "queued")]
    assert [(mail["to"], mail["subject"]) for mail in sent_mail(app)] == [("reader@example.com", "About your change")]
    assert [(row.status, row.attempts) for row in outbox_rows()] == [("sent", 1)]


def test_a_request_that_only_sends_mail_leaves_it_in_the_outbox_unsent(app, users):
    """A reset request changes no row: its mail is committed all the same, and the request sends nothing."""
    response = Browserish(app.test_client()).submit("/reset", {"email": "reader@example.com"})
    assert response.status_code in (200, 302)
    assert app.extensions["cms.outbox"] == []
    assert [(row.recipient, row.kind, row.status) for row in outbox_rows()] == [
        ("reader@example.com", "security/email/reset_instructions", "queued")
    ]


def test_mail_goes_out_over_smtp_once_with_a_message_id(app, sink):
    mail_id = queue("ann@example.com", "Über uns – 你好")
    assert outbox.send_due_mail() == 1
    assert outbox.send_due_mail() == 0
    [received] = sink.received
    assert (received.to, received.message["Subject"]) == ("ann@example.com", "Über uns – 你好")
    assert received.message["Message-ID"].startswith(f"<outbox.{mail_id}.")
    row = outbox_rows()[0]
    assert (row.status, row.attempts, row.last_error, row.lease_token) == ("sent", 1, None, None)
    assert row.sent_at is not None


def test_a_refused_attempt_is_tried_again_after_a_backoff_that_doubles(app, sink, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 60)
    sink.refuse_next(2)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        mail_id = queue()
        outbox.send_due_mail()
        row = outbox_rows()[0]
        assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 1, START + timedelta(seconds=60))
        assert "451" in row.last_error
        clock.shift(timedelta(seconds=59))
        assert outbox.send_due_mail() == 0 and state(mail_id) == ("queued", 1)
        clock.shift(timedelta(seconds=1))
        assert outbox.send_due_mail() == 0 and state(mail_id) == ("queued", 2)  # refused again: 120 s now
        assert outbox_rows()[0].next_attempt_at == START + timedelta(seconds=60 + 120)
        clock.shift(timedelta(seconds=119))
        assert outbox.send_due_mail() == 0 and state(mail_id) == ("queued", 2)
        clock.shift(timedelta(seconds=1))
        assert outbox.send_due_mail() == 1 and state(mail_id) == ("sent", 3)
    assert sink.recipients() == ["ann@example.com"]


def test_a_server_that_does_not_answer_is_tried_again(app, monkeypatch):
    with SmtpSink() as closed:
        port = closed.port  # nothing listens there once the sink is gone
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    mail_id = queue()
    outbox.send_due_mail()
    assert state(mail_id) == ("queued", 1)
    assert "ConnectionRefusedError" in outbox_rows()[0].last_error


@pytest.fixture
def silent_server(app, monkeypatch):
    """A mail server that accepts connections and never says a word (hung, or behind a firewall that drops)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    server.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.getsockname()[1])
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 1)
    yield accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_server_that_never_answers_costs_one_timeout_per_batch_and_no_attempt_of_the_mail_not_tried(
    app, silent_server
):
    """Each mail of the batch opened its own connection and waited its own MAIL_TIMEOUT (50 mails, 30 s: 25 minutes
    of a worker), each charged an attempt: an outage of a quarter of an hour failed the whole outbox for good."""
    ids = [queue(f"p{n}@example.com") for n in range(4)]
    assert outbox.send_due_mail() == 0
    assert len(silent_server) == 1, "one connection waited for, for the whole batch"
    rows = {row.id: row for row in outbox_rows()}
    first, rest = rows[ids[0]], [rows[i] for i in ids[1:]]
    assert (first.status, first.attempts) == ("queued", 1) and "timed out" in first.last_error
    assert all((row.status, row.attempts, row.next_attempt_at) == ("queued", 0, first.next_attempt_at) for row in rest)
    assert all(row.lease_token is None and "timed out" in row.last_error for row in rest)


def test_send_mail_says_the_server_was_not_reached_and_exits_non_zero(app, monkeypatch):
    """Cron read "Sent 0 mail(s)" and exit 0, the same as for a run with nothing due."""
    with SmtpSink() as closed:
        port = closed.port
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    queue()
    result = app.test_cli_runner().invoke(args=["cms", "send-mail"])
    assert result.exit_code == 1
    assert "1 attempt(s) to send failed (see /admin/outbox/); the last: ConnectionRefusedError" in result.output
    assert app.test_cli_runner().invoke(args=["cms", "send-mail"]).exit_code == 0  # nothing due now: no attempt


def test_after_max_attempts_a_mail_stays_failed_with_its_error(app, sink, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 1)
    sink.refuse_next(10)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        mail_id = queue()
        for attempt in (1, 2):
            outbox.send_due_mail()
            assert state(mail_id) == ("queued", attempt), "tried again: fewer than MAIL_MAX_ATTEMPTS attempts"
            clock.shift(timedelta(seconds=60))
        outbox.send_due_mail()
        assert state(mail_id) == ("failed", 3)
        clock.shift(timedelta(days=1))
        assert outbox.send_due_mail() == 0 and state(mail_id) == ("failed", 3)
    assert "451 4.3.0 Try again later" in outbox_rows()[0].last_error
    assert sink.received == []


def test_a_permanent_refusal_fails_at_once(app, sink):
    sink.refuse_next(1, "550 5.1.1 No such mailbox")
    mail_id = queue("nobody@example.com")
    queue("ann@example.com")
    assert outbox.send_due_mail() == 1
    assert state(mail_id) == ("failed", 1)
    assert "550" in outbox_rows(recipient="nobody@example.com")[0].last_error
    assert sink.recipients() == ["ann@example.com"], "the next mail of the batch still goes"


def test_send_again_puts_a_failed_mail_back_with_fresh_attempts(app, sink):
    sink.refuse_next(1, "550 5.1.1 No such mailbox")
    mail_id = queue()
    outbox.send_due_mail()
    assert outbox.send_again([mail_id]) == 1 and state(mail_id) == ("queued", 0)
    assert outbox.send_again([mail_id]) == 0, "only a failed mail is sent again"
    outbox.send_due_mail()
    assert state(mail_id) == ("sent", 1) and sink.recipients() == ["ann@example.com"]


@pytest.mark.parametrize("stale_after", [60, 3])
def test_a_claim_whose_heartbeat_is_stale_after_old_goes_back_to_the_queue_and_not_a_second_before(
    app, monkeypatch, stale_after
):
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER", stale_after)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        mail_id = queue()
        token = outbox.claim_due(10)  # a worker took it, then died before sending
        assert token and state(mail_id) == ("sending", 1)
        clock.shift(timedelta(seconds=stale_after))
        assert outbox.requeue_stale() == 0 and state(mail_id) == ("sending", 1)
        assert outbox.next_wake() == 0.0
        clock.shift(timedelta(seconds=1))
        assert outbox.requeue_stale() == 1 and state(mail_id) == ("queued", 1)
        assert outbox.send_due_mail() == 1 and state(mail_id) == ("sent", 2)
        assert outbox_rows()[0].lease_token is None  # read on the test's clock: months later it is deleted as sent
    assert [mail["to"] for mail in sent_mail(app)] == ["ann@example.com"]


def test_two_workers_never_claim_the_same_mail(app):
    ids = [queue(f"person{n}@example.com") for n in range(5)]
    first, second, third = outbox.claim_due(3), outbox.claim_due(3), outbox.claim_due(3)
    assert first and second and third is None
    claims = {row.id: row.lease_token for row in outbox_rows()}
    assert (
        sorted(claims) == ids and list(claims.values()).count(first) == 3 and list(claims.values()).count(second) == 2
    )


def test_mail_claimed_by_a_lost_lease_is_not_marked_by_its_old_worker(app, monkeypatch):
    """A worker slow enough to be taken for dead: its rows went back to the queue and another worker sends them;
    what the slow one writes afterwards changes nothing."""
    mail_id = queue()
    token = outbox.claim_due(10)
    db.session.execute(sa.update(OutgoingMail).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert outbox.requeue_stale() == 1
    assert outbox.send_due_mail() == 1
    assert outbox._settle(mail_id, token, status=MailStatus.FAILED) is False
    assert state(mail_id) == ("sent", 2)


def test_the_thread_worker_sends_after_the_commit_without_being_asked(app, sink, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_WORKER", "thread")
    queue("ann@example.com")
    assert outbox.wait_for_worker(app, 30)
    assert sink.recipients() == ["ann@example.com"]
    assert [row.status for row in outbox_rows()] == ["sent"]


def test_a_mail_whose_last_attempt_died_with_its_worker_stays_failed(app, monkeypatch):
    """A mail that kills every worker sending it (or is simply unlucky) stops at MAIL_MAX_ATTEMPTS like any other."""
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        mail_id = queue()
        for attempt in (1, 2):
            assert outbox.claim_due(10)  # and the worker dies
            clock.shift(timedelta(seconds=61))
            outbox.requeue_stale()
            assert state(mail_id) == (("queued", 1) if attempt == 1 else ("failed", 2))
    assert outbox_rows()[0].last_error == leases.STOPPED


@pytest.mark.parametrize(("sent_ago", "kept"), [(59, True), (60, False)], ids=["a-second-young", "kept-its-time"])
def test_a_sent_mail_is_deleted_once_kept_its_time_and_a_failed_one_stays(app, sink, monkeypatch, sent_ago, kept):
    """Sent mail (its text may hold a working link) goes once it is MAIL_KEEP_SENT old, when mail is next sent."""
    monkeypatch.setitem(app.config, "MAIL_KEEP_SENT", 60)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        sink.refuse_next(1, "550 5.1.1 No such mailbox")
        failed, sent = queue("nobody@example.com"), queue("ann@example.com")
        assert outbox.send_due_mail() == 1
        clock.shift(timedelta(seconds=sent_ago))
        later = queue("bob@example.com")
        assert outbox.send_due_mail() == 1
        held = {row.id: row.status for row in outbox_rows()}
    assert held == {failed: "failed", later: "sent", **({sent: "sent"} if kept else {})}
