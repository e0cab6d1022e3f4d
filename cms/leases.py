"""Leases on background work, whatever runs it (an RQ worker or a thread): a worker claims a queued row, a heartbeat
keeps the claim alive while the work runs, and whoever looks at the rows fails the ones that can no longer end — a
claim whose heartbeat stopped (its worker died: a restart, a deploy, out of memory), a row no worker started, a run
past its time limit — so no job stays "running" for good and no cron is needed.

A leased table has the columns `id`, `status`, `created_at`, `started_at`, `heartbeat_at`, `lease_token`, `error`
and `finished_at` (`cms.models.ExportJob`). Every write after the claim names the claim's token, so a worker that
lost its lease (failed as stale while it was only slow) can change nothing any more.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l

from cms.extensions import db
from cms.models import utcnow

log = logging.getLogger("cms.leases")

# Why a row was failed by whoever looked, stored in its `error` column as a code (the limits in seconds after
# a colon) and shown in the reader's language by `reason_text`.
STOPPED = "lease:stopped"
NOT_STARTED = "lease:not-started"
TIMED_OUT = "lease:timed-out"


class LeaseLost(Exception):
    """The row is no longer this worker's (it was failed, or removed): the work stops and writes nothing more."""


@dataclass(frozen=True)
class LeasedWork:
    """A table of leased work: its model, the status values a row moves through, and the extra values a failed
    row gets (given the time it failed), e.g. when it may be purged."""

    model: Any
    queued: str
    running: str
    failed: str
    fail_values: Callable[[datetime], dict] = field(default=lambda now: {})

    def held(self, row_id: Any, token: str) -> list:
        """WHERE clauses matching the row only while this claim holds it (`row_id` None: every row of a claim
        that took several, as the outbox's workers do)."""
        model = self.model
        row = [] if row_id is None else [model.id == row_id]
        return [*row, model.lease_token == token, model.status == self.running]

    def failing(self, reason: str, now: datetime) -> dict:
        return {"status": self.failed, "error": reason, "finished_at": now, **self.fail_values(now)}


def _matched(result: sa.Result) -> int:
    """The rows an UPDATE matched (the MySQL dialects count matched rows, not changed ones)."""
    return cast(sa.CursorResult, result).rowcount


def beat_interval(stale_after: float) -> float:
    """How often a running worker beats: four beats fit in the stale limit, so one slow write never fails a job."""
    return stale_after / 4


def claim(work: LeasedWork, row_id: Any) -> str | None:
    """Take a queued row for this worker: it becomes running under a new lease token, which is returned. None
    when the row is not waiting any more (another worker took it, it was failed or removed): nothing to do."""
    now = utcnow()
    token = uuid.uuid4().hex
    result = db.session.execute(
        sa.update(work.model)
        .where(work.model.id == row_id, work.model.status == work.queued)
        .values(status=work.running, lease_token=token, started_at=now, heartbeat_at=now)
    )
    db.session.commit()
    return token if _matched(result) == 1 else None


def renew(work: LeasedWork, row_id: Any, token: str, **values: Any) -> None:
    """A beat from the worker's own thread, with `values` (its progress) in the same statement, committed.
    Raises LeaseLost when the claim is gone."""
    result = db.session.execute(
        sa.update(work.model).where(*work.held(row_id, token)).values(heartbeat_at=utcnow(), **values)
    )
    db.session.commit()
    if _matched(result) != 1:
        raise LeaseLost(row_id)


def finish(work: LeasedWork, row_id: Any, token: str, status: str, **values: Any) -> bool:
    """End the claim with `status` and `values`, committed. False when the claim was lost first: nothing is
    written, and what the work made should be dropped."""
    result = db.session.execute(sa.update(work.model).where(*work.held(row_id, token)).values(status=status, **values))
    db.session.commit()
    return _matched(result) == 1


def fail(work: LeasedWork, row_id: Any, token: str, reason: str) -> bool:
    """End the claim as failed with `reason` (an error text or one of the codes above), committed."""
    return finish(work, row_id, token, **work.failing(reason, utcnow()))


def reason_text(error: str | None) -> str | None:
    """A failure's reason in the reader's language: the codes above translated, any other text as it is."""
    if not error or not error.startswith("lease:"):
        return error
    code, _, seconds = error.rpartition(":")
    if error == STOPPED:
        return str(_l("the worker running it stopped (a restart, a deploy or running out of memory)"))
    limit = format_timedelta(timedelta(seconds=int(seconds)), threshold=1) if seconds.isdigit() else seconds
    if code == NOT_STARTED:
        return str(_l("no worker started it within %(limit)s; check that `flask cms worker` runs", limit=limit))
    if code == TIMED_OUT:
        return str(_l("it ran longer than its limit of %(limit)s", limit=limit))
    return error


def expire(work: LeasedWork, *, stale_after: float, start_within: float, run_limit: float) -> list:
    """Fail the rows that can no longer end, and return their ids: running rows whose heartbeat is more than
    `stale_after` seconds old (their worker died) or that started more than `run_limit` seconds ago, and rows
    queued more than `start_within` seconds ago while no row was running with a live heartbeat (no worker is
    serving the queue; a busy worker takes them in turn).

    Each row is failed by an UPDATE repeating its condition, so a beat landing first keeps the row, and two
    readers expiring at once fail it once. Cheap enough for every look at a job: one SELECT of the unfinished
    rows, an UPDATE only for a row to fail."""
    model, now = work.model, utcnow()
    alive_since = now - timedelta(seconds=stale_after)
    unfinished = db.session.execute(
        sa.select(model.id, model.status, model.created_at, model.started_at, model.heartbeat_at).where(
            model.status.in_((work.queued, work.running))
        )
    ).all()
    serving = any(
        row.status == work.running and row.heartbeat_at is not None and row.heartbeat_at >= alive_since
        for row in unfinished
    )
    to_fail: list[tuple[Any, Any, str]] = []
    for row in unfinished:
        if row.status == work.running:
            if row.heartbeat_at is None or row.heartbeat_at < alive_since:
                stale = sa.or_(model.heartbeat_at.is_(None), model.heartbeat_at < alive_since)
                to_fail.append((row.id, sa.and_(model.status == work.running, stale), STOPPED))
            elif row.started_at is not None and row.started_at < now - timedelta(seconds=run_limit):
                late = model.started_at < now - timedelta(seconds=run_limit)
                to_fail.append((row.id, sa.and_(model.status == work.running, late), f"{TIMED_OUT}:{int(run_limit)}"))
        elif not serving and row.created_at < now - timedelta(seconds=start_within):
            waited = model.created_at < now - timedelta(seconds=start_within)
            to_fail.append((row.id, sa.and_(model.status == work.queued, waited), f"{NOT_STARTED}:{int(start_within)}"))
    failed = []
    for row_id, condition, reason in to_fail:
        result = db.session.execute(
            sa.update(work.model).where(model.id == row_id, condition).values(**work.failing(reason, now))
        )
        if _matched(result) == 1:
            failed.append(row_id)
            log.warning("%s %s failed: %s", model.__name__, row_id, reason)
    db.session.commit()
    return failed


# A fork (an export's second process) waits for database work of another thread (a heartbeat's beat, the mail
# watch of `flask cms worker`) to end, so the child never inherits a connection that thread was using: in the
# child, that thread's frames are freed, its connection goes back to the pool with a ROLLBACK on the socket the
# parent is still reading ("Packet sequence number wrong" in the parent). Hold it around such work.
FORK_GUARD = threading.Lock()
os.register_at_fork(before=FORK_GUARD.acquire, after_in_parent=FORK_GUARD.release, after_in_child=FORK_GUARD.release)
_beating: set[Heartbeat] = set()


class Heartbeat:
    """Keeps a claim alive from a thread of its own, every `interval` seconds while the `with` block runs, so a
    slow step (one large chunk, a slow database) never looks like a dead worker. It writes through its own
    connection, never the work's session. A beat that finds the claim gone sets `lost`; the work learns it at
    its next `renew`."""

    def __init__(self, work: LeasedWork, row_id: Any, token: str, interval: float):
        self.work, self.row_id, self.token, self.interval = work, row_id, token, interval
        self.engine = db.engine  # the primary's: bound now, inside the app context
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{row_id}")

    def __enter__(self) -> Heartbeat:
        _beating.add(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        _beating.discard(self)

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and self.beat():
            pass

    def _write(self, values: dict) -> bool | None:
        """One conditional UPDATE of the claimed row; whether the claim held, or None when the database failed."""
        statement = sa.update(self.work.model).where(*self.work.held(self.row_id, self.token)).values(**values)
        try:
            with FORK_GUARD, self.engine.begin() as connection:
                return _matched(connection.execute(statement)) >= 1
        except sa.exc.SQLAlchemyError:
            log.warning("lease of %s: the database failed; trying again", self.row_id, exc_info=True)
            return None

    def beat(self) -> bool:
        """Whether the claim still holds (a database error counts as holding: the next beat tries again)."""
        held = self._write({"heartbeat_at": utcnow()})
        if held is False:
            self.lost.set()
            log.warning("lease of %s was lost: the work stops", self.row_id)
        return held is not False

    def abandon(self, reason: str = STOPPED) -> None:
        """Fail the claim now, from outside the work (this process is exiting)."""
        if self._write(self.work.failing(reason, utcnow())):
            log.warning("%s %s failed: this process exited while it ran", self.work.model.__name__, self.row_id)


@atexit.register
def _fail_claims_of_an_exiting_process() -> None:
    """A process that exits (a graceful restart or deploy) takes its daemon threads' work with it: their claims
    are failed at once rather than a stale limit later."""
    for heartbeat in list(_beating):
        heartbeat.abandon()
