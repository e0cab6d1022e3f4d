"""The outbox: every outgoing mail is a row written in the transaction of the change that causes it (a change
rolled back sends nothing), and a worker sends it — RQ when Redis is configured, a thread of the process
otherwise (MAIL_WORKER) — with retries and backoff; a mail that keeps failing stays visible to administrators.

Delivery is at least once, never silently lost. A worker claims due rows under a lease (`cms.leases`): one UPDATE
… WHERE status = 'queued' with its own token, so two workers never take the same row, and each row is marked sent
in its own commit right after the SMTP server accepted it. A worker that dies leaves its claimed rows "sending"
with a heartbeat that stops; once the heartbeat is JOB_STALE_AFTER seconds old any worker puts them back in the
queue. So a restart loses none, and sends none twice — except the one message (if any) the SMTP server accepted
in the instant between its "250 OK" and our commit: that one goes again, with the same Message-ID, which lets mail
clients show it once. The other choice (at most once) would turn that instant into a mail silently never sent.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import Flask, after_this_request, current_app, g, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cms import leases, outages
from cms.extensions import db
from cms.models import MailStatus, OutgoingMail, utcnow

log = logging.getLogger("cms.mail")

STOPPED = leases.STOPPED  # why a row went back to the queue: its worker stopped while it held it


class OutboxLease(leases.LeasedWork):
    """The outbox as leased work: a claim covers a batch of rows, and a claim given up (its process exiting)
    puts its rows back in the queue rather than failing them."""

    def failing(self, reason: str, now: datetime) -> dict:
        return {"status": MailStatus.QUEUED, "lease_token": None, "last_error": reason, "next_attempt_at": now}


MAIL = OutboxLease(OutgoingMail, queued=MailStatus.QUEUED, running=MailStatus.SENDING, failed=MailStatus.FAILED)


# -- writing to the outbox ---------------------------------------------------------------------------------
def queue_mail(kind: str, recipient: str, subject: str, body: str, html: str | None = None,
               sender: str | None = None) -> OutgoingMail:  # fmt: skip
    """Add a mail to the session, to be committed with the change that causes it; the commit wakes a worker.

    In a request, the mail is committed when the response is not an error even if nothing else commits (a reset
    or confirmation request changes no row): Flask-Security's forms that only send mail rely on it."""
    mail = OutgoingMail(
        kind=kind[:64],
        recipient=recipient,
        sender=sender or current_app.config["MAIL_SENDER"],
        subject=subject[:255],
        body=body,
        html=html,
        status=MailStatus.QUEUED,
        next_attempt_at=utcnow(),
    )
    db.session.add(mail)
    if has_request_context() and not g.get("cms_outbox_commit"):
        g.cms_outbox_commit = True
        after_this_request(_commit_queued_mail)
    return mail


def queue_many(mails: list[dict]) -> None:
    """Add many mails (each the arguments of `queue_mail`) to the current transaction in one INSERT, to be
    committed by the caller with the change that causes them; the commit wakes a worker."""
    if not mails:
        return
    now, sender = utcnow(), current_app.config["MAIL_SENDER"]
    rows = [{"sender": sender, "html": None, **mail, "status": MailStatus.QUEUED, "attempts": 0, "created_at": now,
             "next_attempt_at": now} for mail in mails]  # fmt: skip
    db.session.execute(sa.insert(OutgoingMail), rows)
    db.session.info["cms_outbox_new"] = True


def _commit_queued_mail(response):
    if response.status_code < 400 and any(isinstance(row, OutgoingMail) for row in db.session.new):
        db.session.commit()
    return response


# -- sending -----------------------------------------------------------------------------------------------
class PermanentFailure(Exception):
    """The server refused the mail for good (a 5xx answer): trying again would be refused again."""


class TemporaryFailure(Exception):
    """The server refused the mail for now (a 4xx answer): it is tried again later."""


def deliver(mail: OutgoingMail, connection: Callable[[], smtplib.SMTP | None]) -> None:
    """Hand one mail to the SMTP server (`connection()`, None when no server is configured: the log, and in
    testing the list the tests read). Raises PermanentFailure for a refusal for good, TemporaryFailure (or an
    SMTP or network error) for a failure worth another attempt."""
    smtp = connection()
    if smtp is None:
        log.info("Mail to %s: %s\n%s", mail.recipient, mail.subject, mail.body)
    else:
        _send(smtp, mail)
    if current_app.config.get("TESTING"):
        current_app.extensions.setdefault("cms.outbox", []).append(
            {"to": mail.recipient, "subject": mail.subject, "body": mail.body, "html": mail.html}
        )


def _send(smtp: smtplib.SMTP, mail: OutgoingMail) -> None:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = mail.subject, mail.sender, mail.recipient
    # The same id at every attempt: a message sent twice (see the module's docstring) is one message to clients.
    message["Message-ID"] = f"<outbox.{mail.id}.{mail.created_at:%Y%m%d%H%M%S%f}@{_domain(mail.sender)}>"
    message.set_content(mail.body)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        answers = exc.recipients.values()
        text = "; ".join(f"{address}: {code} {_text(answer)}" for address, (code, answer) in exc.recipients.items())
        raise (PermanentFailure if all(code >= 500 for code, _ in answers) else TemporaryFailure)(text) from None
    except smtplib.SMTPResponseException as exc:
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        raise (PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure)(text) from None


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(" >") or "cms.localhost"


class _Connection:
    """One SMTP connection for a batch, opened when the first mail needs it and again after a failure."""

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None

    def __call__(self) -> smtplib.SMTP | None:
        config = current_app.config
        if not config.get("MAIL_SERVER"):
            return None
        if self.smtp is None:
            self.smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=config["MAIL_TIMEOUT"])
        return self.smtp

    def drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def retry_delay(attempts: int) -> timedelta:
    """How long a mail waits after its `attempts`-th failed attempt: MAIL_RETRY_BASE_SECONDS, then doubling."""
    return timedelta(seconds=current_app.config["MAIL_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0))


def requeue_stale() -> int:
    """Put back in the queue the mail claimed by a worker whose heartbeat is JOB_STALE_AFTER seconds old (it
    died: a restart, a deploy, out of memory); how many. One conditional UPDATE: a beat landing first keeps them."""
    now, config = utcnow(), current_app.config
    stale = [OutgoingMail.status == MailStatus.SENDING,
             OutgoingMail.heartbeat_at < now - timedelta(seconds=config["JOB_STALE_AFTER"])]  # fmt: skip
    # A mail whose every attempt ended with its worker dead may be what kills it: it stops at the last attempt.
    db.session.execute(
        sa.update(OutgoingMail)
        .where(*stale, OutgoingMail.attempts >= config["MAIL_MAX_ATTEMPTS"])
        .values(status=MailStatus.FAILED, lease_token=None, last_error=STOPPED)
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(*stale)
        .values(status=MailStatus.QUEUED, lease_token=None, last_error=STOPPED, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    count = leases._matched(result)
    if count:
        log.warning("%d mail(s) claimed by a worker that stopped went back to the queue", count)
    return count


def purge_sent() -> int:
    """Delete the mail sent MAIL_KEEP_SENT seconds ago or more; how many. Its text may hold a link that still works
    (an invitation, a reset) and people's details, which the outbox need not keep once the mail is delivered; a
    failed or queued mail stays, whatever its age."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["MAIL_KEEP_SENT"])
    gone = db.session.execute(
        sa.delete(OutgoingMail).where(OutgoingMail.status == MailStatus.SENT, OutgoingMail.sent_at <= cutoff)
    )
    db.session.commit()
    return gone.rowcount  # type: ignore[attr-defined]


def claim_due(limit: int) -> str | None:
    """Claim up to `limit` due mails for this worker under a new lease token, each counted as an attempt;
    the token, or None when nothing is due."""
    now = utcnow()
    due = list(
        db.session.scalars(
            select(OutgoingMail.id)
            .where(OutgoingMail.status == MailStatus.QUEUED, OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
            .limit(limit)
        )
    )
    if not due:
        db.session.commit()
        return None
    token = uuid.uuid4().hex
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(due), OutgoingMail.status == MailStatus.QUEUED)
        .values(
            status=MailStatus.SENDING,
            lease_token=token,
            started_at=now,
            heartbeat_at=now,
            attempts=OutgoingMail.attempts + 1,
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # Another worker may have taken some (or all) of them between the SELECT and the UPDATE: try again.
    return token if leases._matched(result) else claim_due(limit)


def _settle(mail_id: int, token: str, **values: Any) -> bool:
    """Write a claimed mail's outcome, committed; False when the claim was lost first."""
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(*MAIL.held(mail_id, token))
        .values(lease_token=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return leases._matched(result) == 1


def _failed_attempt(mail: OutgoingMail, token: str, error: str, permanent: bool) -> datetime:
    """Record a failed attempt: the mail waits for its next one, or fails for good; when it is due again."""
    config = current_app.config
    error = error[:500]
    retry_at = utcnow() + retry_delay(mail.attempts)
    if permanent or mail.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _settle(mail.id, token, status=MailStatus.FAILED, last_error=error)
        log.error("mail %s to %s failed for good after %d attempt(s): %s", mail.id, mail.recipient, mail.attempts,
                  error)  # fmt: skip
    else:
        _settle(mail.id, token, status=MailStatus.QUEUED, last_error=error, next_attempt_at=retry_at)
        log.warning("mail %s to %s failed (attempt %d), again at %s: %s", mail.id, mail.recipient, mail.attempts,
                    retry_at, error)  # fmt: skip
    return retry_at


def _put_back(mail_ids: list[int], token: str, error: str, retry_at: datetime) -> None:
    """Return claimed mails to the queue untried: their attempt uncounted, due again at `retry_at`."""
    if not mail_ids:
        return
    db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(mail_ids), OutgoingMail.lease_token == token)
        .values(
            status=MailStatus.QUEUED,
            lease_token=None,
            attempts=OutgoingMail.attempts - 1,
            next_attempt_at=retry_at,
            last_error=error,
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# What says the mail server was not reached (refused, unreachable, silent past MAIL_TIMEOUT, hung up), not that
# it refused one mail: the rest of the batch would meet the same, each after its own timeout.
UNREACHED = (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


def send_claimed(token: str, failures: list[str] | None = None) -> int:
    """Send the mails of one claim, keeping the lease alive while the SMTP server is slow; how many went out.
    Stops (leaving the rest for whoever requeues them) when the claim is lost. When the server is not reached, the
    rest of the claim goes back to the queue untried, to wait as the mail that met it does: one timeout per batch,
    not one per mail, and no attempt spent on a mail never tried. Each failed attempt's error is added to
    `failures`."""
    config = current_app.config
    mails = list(db.session.scalars(select(OutgoingMail).where(OutgoingMail.lease_token == token)
                                    .order_by(OutgoingMail.id)))  # fmt: skip
    for mail in mails:
        db.session.expunge(mail)  # read once: the commits below write the outcome by statement
    db.session.commit()
    connection, sent = _Connection(), 0
    try:
        with leases.Heartbeat(MAIL, None, token, leases.beat_interval(config["JOB_STALE_AFTER"])) as heartbeat:
            for position, mail in enumerate(mails):
                if heartbeat.lost.is_set():
                    log.warning("the claim on mail %s… was lost: its worker stops", mails[0].id)
                    break
                try:
                    deliver(mail, connection)
                except (PermanentFailure, TemporaryFailure) as exc:
                    connection.drop()  # what the server makes of the transaction after a refusal is its own
                    _failed_attempt(mail, token, str(exc), permanent=isinstance(exc, PermanentFailure))
                    _note(failures, str(exc))
                    continue
                except (smtplib.SMTPException, OSError) as exc:
                    connection.drop()
                    error = f"{type(exc).__name__}: {exc}"
                    retry_at = _failed_attempt(mail, token, error, permanent=False)
                    _note(failures, error)
                    if isinstance(exc, UNREACHED):
                        _put_back([later.id for later in mails[position + 1 :]], token, error[:500], retry_at)
                        break
                    continue
                if _settle(mail.id, token, status=MailStatus.SENT, sent_at=utcnow(), last_error=None):
                    sent += 1
                else:
                    log.warning("mail %s was sent after its claim was lost: it may go twice", mail.id)
    finally:
        connection.drop()
    return sent


def _note(failures: list[str] | None, error: str) -> None:
    if failures is not None:
        failures.append(error)


def send_due_mail(failures: list[str] | None = None) -> int:
    """Send every mail that is due now, a claim of MAIL_BATCH at a time, after putting back in the queue what a
    dead worker held and deleting what was sent MAIL_KEEP_SENT seconds ago; how many went out, each failed
    attempt's error added to `failures`. What RQ's job, the thread and `flask cms send-mail` run."""
    requeue_stale()
    purge_sent()
    sent = 0
    while (token := claim_due(current_app.config["MAIL_BATCH"])) is not None:
        sent += send_claimed(token, failures)
    return sent


def next_wake() -> float | None:
    """Seconds until the outbox next needs a worker: the next retry, or a claim going stale; None: never."""
    now = utcnow()
    stale_after = timedelta(seconds=current_app.config["JOB_STALE_AFTER"])
    queued = db.session.scalar(
        select(sa.func.min(OutgoingMail.next_attempt_at)).where(OutgoingMail.status == MailStatus.QUEUED)
    )
    beat = db.session.scalar(
        select(sa.func.min(OutgoingMail.heartbeat_at)).where(OutgoingMail.status == MailStatus.SENDING)
    )
    db.session.commit()
    times = [t for t in (queued, beat + stale_after if beat else None) if t is not None]
    return max((min(times) - now).total_seconds(), 0.0) if times else None


# -- what administrators do ------------------------------------------------------------------------------
def send_again(mail_ids: list[int]) -> int:
    """Put failed mails back in the queue with a fresh count of attempts; how many. The commit wakes a worker."""
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(mail_ids), OutgoingMail.status == MailStatus.FAILED)
        .values(status=MailStatus.QUEUED, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.info["cms_outbox_new"] = True
    db.session.commit()
    return leases._matched(result)


def failed_count() -> int:
    return db.session.scalar(select(sa.func.count()).where(OutgoingMail.status == MailStatus.FAILED)) or 0


# -- the workers -------------------------------------------------------------------------------------------
def runner(app: Flask) -> str:
    """Which worker sends this app's mail: "rq", "thread" or "none" (MAIL_WORKER, "auto" choosing by REDIS_URL)."""
    choice = app.config["MAIL_WORKER"]
    if choice == "auto":
        return "rq" if app.config.get("REDIS_URL") else "thread"
    return choice


def wake(app: Flask) -> None:
    """Ask this app's worker to send what is due now."""
    kind = runner(app)
    if kind == "rq":
        _mail_queue(app).enqueue("worker.send_mail", result_ttl=0, failure_ttl=86400)
    elif kind == "thread":
        _thread_of(app).wake()


def _mail_queue(app: Flask):
    from rq import Queue

    return Queue(app.config["MAIL_QUEUE"], connection=outages.redis_client(app.config))


def run_rq_job() -> None:
    """The RQ job: send what is due (a retry or a stale claim falling due later is `watch`'s)."""
    send_due_mail()


def watch(app: Flask, stop: threading.Event) -> threading.Thread:
    """For `flask cms worker`: a thread that queues a mail job whenever mail falls due (a retry's time comes, a
    dead worker's claim goes stale) and the mail queue is empty, looking at least every JOB_STALE_AFTER / 4
    seconds; it sends nothing itself. (RQ's own scheduler would do, but a worker killed holds its lock for a
    minute, which would hold the mail a restarted worker should pick up.)"""

    def run() -> None:
        interval = leases.beat_interval(app.config["JOB_STALE_AFTER"])
        with app.app_context():
            while not stop.is_set():
                try:
                    with leases.FORK_GUARD:  # an export the worker runs may fork meanwhile (cms.leases)
                        delay = next_wake()
                    if delay is not None and delay <= 0 and _mail_queue(app).count == 0:
                        wake(app)
                except Exception:  # the database or Redis is away: look again later
                    log.warning("the mail watch could not look at the outbox", exc_info=True)
                    with leases.FORK_GUARD:
                        db.session.rollback()
                    delay = None
                stop.wait(interval if delay is None or delay <= 0 else min(delay, interval))
            db.session.remove()

    thread = threading.Thread(target=run, daemon=True, name="cms-mail-watch")
    thread.start()
    return thread


@dataclass
class _SenderThread:
    """A process's mail thread: sends what is due, then sleeps until the next retry or stale claim, or until a
    commit wakes it; it ends when the outbox has nothing left to do and starts again at the next wake."""

    app: Flask
    thread: threading.Thread | None = None

    def __post_init__(self):
        self.woken = threading.Event()
        self.lock = threading.Lock()

    def wake(self) -> None:
        with self.lock:
            self.woken.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, daemon=True, name="cms-mail")
                self.thread.start()

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while True:
                    self.woken.clear()
                    try:
                        send_due_mail()
                        delay = next_wake()
                    except sa.exc.SQLAlchemyError:  # the database is away: try again in a while
                        log.warning("the mail thread could not reach the database", exc_info=True)
                        db.session.rollback()
                        delay = float(self.app.config["JOB_STALE_AFTER"]) / 4
                    with self.lock:
                        if delay is None and not self.woken.is_set():
                            self.thread = None
                            return
                    self.woken.wait(timeout=delay)
            finally:
                db.session.remove()


_threads: weakref.WeakKeyDictionary[Flask, _SenderThread] = weakref.WeakKeyDictionary()
_threads_lock = threading.Lock()


def _thread_of(app: Flask) -> _SenderThread:
    with _threads_lock:
        if app not in _threads:
            _threads[app] = _SenderThread(app)
        return _threads[app]


def _note_new_mail(session: Session, flush_context, instances) -> None:
    if any(isinstance(row, OutgoingMail) for row in session.new):
        session.info["cms_outbox_new"] = True


def _wake_after_commit(session: Session) -> None:
    if session.info.pop("cms_outbox_new", False):
        try:
            wake(current_app._get_current_object())  # type: ignore[attr-defined]
        except Exception:  # Redis away: the mail waits in the table for the next wake or `flask cms worker`
            log.warning("no mail worker could be woken; the mail waits in the outbox", exc_info=True)


def _forget_after_rollback(session: Session, previous_transaction) -> None:
    session.info.pop("cms_outbox_new", None)


def init_app(app: Flask) -> None:
    """Wake the worker after every commit that wrote mail, and once when a process starts serving, for mail a
    process that stopped left behind."""
    hooks = (("before_flush", _note_new_mail), ("after_commit", _wake_after_commit),
             ("after_soft_rollback", _forget_after_rollback))  # fmt: skip
    for name, hook in hooks:
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)
    started = {"done": False}

    @app.before_request
    def wake_for_mail_left_behind() -> None:
        if started["done"]:
            return
        started["done"] = True
        try:
            if runner(app) == "thread" and next_wake() is not None:
                wake(app)
        except sa.exc.SQLAlchemyError:  # the database is away: the request says so; look again next time
            db.session.rollback()
            started["done"] = False


def wait_for_worker(app: Flask, seconds: float) -> bool:
    """For tests and `flask cms send-mail --wait`: whether the thread worker finished within `seconds`."""
    deadline = time.monotonic() + seconds
    sender = _threads.get(app)
    while sender is not None and sender.thread is not None and sender.thread.is_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
