"""Exact per-status row counts, kept in the transaction of every change, so a list's count by status reads a few
rows of a small table instead of counting a table of a million: comments (cms/comment_counts.py, the moderation
queue's tabs) and posts (cms/post_counts.py, the post list's status filter).

ORM changes (a new row, an edited status, a deleted row, and rows that go with a deleted post or account by
ON DELETE CASCADE) are counted by a flush hook. Services that change rows with bulk statements call
`StatusCounter.adjust_for_status_change` or `adjust_for_delete` before their statement. `recount` rebuilds a
table from the rows themselves (after a bulk load), and `flask cms check-counts` compares the two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cms.extensions import db
from cms.models import Post, User

_PENDING_KEY = "cms.status_count_deltas"
COUNTERS: list[StatusCounter] = []  # the counters the flush hook keeps (`listen`)


@dataclass(frozen=True, eq=False)
class StatusCounter:
    """The counts of `model`'s rows by status, stored in `table` (a status column and its count `n`). The model's
    status column needs `active_history=True`: a status set on an expired row is otherwise changed without the
    one it replaces, and the change goes uncounted."""

    name: str  # what `flask cms check-counts` calls the rows: "comment", "post"
    model: Any
    table: Any
    statuses: type[StrEnum]
    default: str  # the status of a new row that names none
    # The clause selecting the rows ON DELETE CASCADE removes with deleted posts and accounts, by their ids.
    removed_with: Callable[[list[int], list[int]], Any]

    def counts(self) -> dict[str, int]:
        """The count of each status (every status present, zero when none)."""
        table = self.table
        stored = dict(db.session.execute(sa.select(table.status, table.n)).tuples().all())
        return {status.value: int(stored.get(status.value, 0)) for status in self.statuses}

    def true_counts(self, session=None) -> dict[str, int]:
        """The counts from the rows themselves (a full scan: for checks and repairs, never for pages)."""
        session = session or db.session
        status = self.model.status
        rows = session.execute(sa.select(status, sa.func.count()).group_by(status)).tuples().all()
        found = dict.fromkeys((status.value for status in self.statuses), 0)
        found.update({status: int(n) for status, n in rows})
        return found

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Statuses whose stored count differs from the truth: {status: (stored, true)}."""
        stored, truth = self.counts(), self.true_counts()
        return {status: (stored.get(status, 0), n) for status, n in truth.items() if stored.get(status, 0) != n}

    def recount(self) -> dict[str, int]:
        """Rebuild the stored counts from the rows (after a bulk load, or to repair); committed."""
        truth = self.true_counts()
        db.session.execute(sa.delete(self.table))
        db.session.execute(sa.insert(self.table), [{"status": s, "n": n} for s, n in truth.items()])
        db.session.commit()
        return truth

    def apply(self, connection, deltas: Counter) -> None:
        table = self.table
        for status, delta in deltas.items():
            if not delta:
                continue
            result = connection.execute(
                sa.update(table)
                .where(table.status == status)
                .values(n=table.n + delta)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:
                connection.execute(sa.insert(table).values(status=status, n=delta))

    def grouped(self, connection, where) -> Counter:
        status = self.model.status
        rows = connection.execute(sa.select(status, sa.func.count()).where(*where).group_by(status))
        return Counter({status: int(n) for status, n in rows})

    def adjust_for_status_change(self, ids: list[int], new_status: str) -> None:
        """Before `UPDATE … SET status = new_status WHERE id IN ids AND status != new_status`."""
        connection = db.session.connection()
        moving = self.grouped(connection, [self.model.id.in_(ids), self.model.status != new_status])
        deltas = Counter({status: -n for status, n in moving.items()})
        deltas[new_status] += sum(moving.values())
        self.apply(connection, deltas)

    def adjust_for_delete(self, ids: list[int]) -> None:
        """Before `DELETE … WHERE id IN ids`."""
        connection = db.session.connection()
        self.apply(connection, Counter({s: -n for s, n in self.grouped(connection, [self.model.id.in_(ids)]).items()}))

    def flush_deltas(self, session: Session) -> Counter:
        """What the flush about to run changes in the counts."""
        deltas: Counter = Counter()
        mine = [obj for obj in session.new if isinstance(obj, self.model)]
        for obj in mine:
            deltas[obj.status or self.default] += 1
        for obj in session.dirty:
            if isinstance(obj, self.model):
                history = sa.inspect(obj).attrs.status.history
                if history.deleted and history.added and history.deleted[0] != history.added[0]:
                    deltas[history.deleted[0]] -= 1
                    deltas[history.added[0]] += 1
        deleted = [obj for obj in session.deleted if isinstance(obj, self.model)]
        for obj in deleted:
            deltas[obj.status or self.default] -= 1
        post_ids = [obj.id for obj in session.deleted if isinstance(obj, Post)]
        user_ids = [obj.id for obj in session.deleted if isinstance(obj, User)]
        if post_ids or user_ids:
            # Rows that go with them by ON DELETE CASCADE, which no ORM event sees.
            where = [self.removed_with(post_ids, user_ids)]
            if deleted:
                where.append(self.model.id.not_in([obj.id for obj in deleted]))
            for status, n in self.grouped(session.connection(), where).items():
                deltas[status] -= n
        return deltas


def _before_flush(session: Session, flush_context, instances) -> None:
    pending: dict = session.info.setdefault(_PENDING_KEY, {})
    for counter in COUNTERS:
        pending.setdefault(counter.name, Counter()).update(counter.flush_deltas(session))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING_KEY, None) or {}
    for counter in COUNTERS:
        deltas = pending.get(counter.name)
        if deltas:
            counter.apply(session.connection(), deltas)


def _forget(session: Session, *args) -> None:
    session.info.pop(_PENDING_KEY, None)


def listen(*counters: StatusCounter) -> None:
    """Count every ORM change to the counters' rows in the flush that writes it."""
    COUNTERS.extend(counter for counter in counters if counter not in COUNTERS)
    for name, hook in (("before_flush", _before_flush), ("after_flush", _after_flush), ("after_rollback", _forget)):
        if not sa.event.contains(Session, name, hook):
            sa.event.listen(Session, name, hook)
