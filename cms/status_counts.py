"""Exact row counts by status (and comments by day), kept in the transaction of every change, so a list's count by
status, or the console's chart of comments per day, reads a few rows of a small table instead of counting a table
of a million: comments (cms/comment_counts.py: the moderation queue's tabs, the chart) and posts
(cms/post_counts.py, the post list's status filter).

ORM changes (a new row, an edited status, a deleted row, and rows that go with a deleted post or account by
ON DELETE CASCADE) are counted by a flush hook. Services that change rows with bulk statements call
`StatusCounter.adjust_for_status_change` or `adjust_for_delete` before their statement. `recount` rebuilds a
table from the rows themselves (after a bulk load), and `flask cms check-counts` compares the two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from cms.extensions import db
from cms.models import Post, User, utcnow

_PENDING_KEY = "cms.status_count_deltas"
COUNTERS: list[RowCounter] = []  # the counters the flush hook keeps (`listen`)


@dataclass(frozen=True, eq=False)
class RowCounter:
    """The counts of `model`'s rows by a key (`StatusCounter`: their status; `DayCounter`: the day they were
    written), stored in `table` (the key's column and its count `n`)."""

    name: str  # what `flask cms check-counts` calls the rows: "comment", "post"
    model: Any
    table: Any
    # The clause selecting the rows ON DELETE CASCADE removes with deleted posts and accounts, by their ids.
    removed_with: Callable[[list[int], list[int]], Any]

    # -- what a subclass says about its key -------------------------------------------------------------
    attribute = ""  # the model's attribute the key comes from (its history is read when a row changes)
    column = ""  # the table's column holding the key

    def key_of(self, value) -> Any:
        """The key of a row whose attribute holds `value`."""
        raise NotImplementedError

    def key_expression(self):
        """The key as SQL over the model's rows (for grouped counts)."""
        raise NotImplementedError

    def stored_key(self, value) -> Any:
        """A key as the database returns it, in the form `key_of` gives."""
        return value

    def value_of_new(self, obj) -> Any:
        """The attribute of a row about to be inserted, as it will be stored."""
        return getattr(obj, self.attribute)

    @property
    def key_column(self):
        return getattr(self.table, self.column)

    # -- reading and repairing ----------------------------------------------------------------------------
    def stored_counts(self, *where) -> dict[Any, int]:
        rows = db.session.execute(sa.select(self.key_column, self.table.n).where(*where)).tuples()
        return {self.stored_key(key): int(n) for key, n in rows}

    def true_counts(self, session=None) -> dict[Any, int]:
        """The counts from the rows themselves (a full scan: for checks and repairs, never for pages)."""
        session = session or db.session
        key = self.key_expression()
        rows = session.execute(sa.select(key, sa.func.count()).group_by(key)).tuples().all()
        return {self.stored_key(key): int(n) for key, n in rows}

    def mismatches(self) -> dict[Any, tuple[int, int]]:
        """Keys whose stored count differs from the truth: {key: (stored, true)}."""
        stored, truth = self.stored_counts(), self.true_counts()
        return {
            key: (stored.get(key, 0), truth.get(key, 0))
            for key in sorted(stored.keys() | truth.keys(), key=str)
            if stored.get(key, 0) != truth.get(key, 0)
        }

    def recount(self) -> dict[Any, int]:
        """Rebuild the stored counts from the rows (after a bulk load, or to repair); committed."""
        truth = self.true_counts()
        db.session.execute(sa.delete(self.table))
        if truth:
            db.session.execute(sa.insert(self.table), [{self.column: k, "n": n} for k, n in truth.items()])
        db.session.commit()
        return truth

    # -- keeping them ----------------------------------------------------------------------------------
    def apply(self, connection, deltas: Counter) -> None:
        """Add `deltas` to the stored counts, one statement per key: an insert that adds to the row when there is
        one. An UPDATE, then an INSERT where it found no row, failed when two transactions counted the first row of
        a key at once (the day's first comments at midnight): both found none, and the second INSERT hit the key."""
        for key, delta in deltas.items():
            if delta:
                connection.execute(self._add(connection.dialect.name, key, delta))

    def _add(self, dialect: str, key, delta: int):
        table, values = self.table.__table__, {self.column: key, "n": delta}
        if dialect in ("mysql", "mariadb"):
            on_mariadb = mysql.insert(table).values(values)
            return on_mariadb.on_duplicate_key_update(n=table.c.n + on_mariadb.inserted.n)
        on_sqlite = sqlite.insert(table).values(values)
        return on_sqlite.on_conflict_do_update(
            index_elements=[self.column], set_={"n": table.c.n + on_sqlite.excluded.n}
        )

    def grouped(self, connection, where) -> Counter:
        key = self.key_expression()
        rows = connection.execute(sa.select(key, sa.func.count()).where(*where).group_by(key))
        return Counter({self.stored_key(key): int(n) for key, n in rows})

    def adjust_for_delete(self, ids: list[int]) -> None:
        """Before `DELETE … WHERE id IN ids`."""
        connection = db.session.connection()
        self.apply(connection, Counter({k: -n for k, n in self.grouped(connection, [self.model.id.in_(ids)]).items()}))

    def flush_deltas(self, session: Session) -> Counter:
        """What the flush about to run changes in the counts."""
        deltas: Counter = Counter()
        for obj in session.new:
            if isinstance(obj, self.model):
                deltas[self.key_of(self.value_of_new(obj))] += 1
        for obj in session.dirty:
            if isinstance(obj, self.model):
                history = getattr(sa.inspect(obj).attrs, self.attribute).history
                if history.deleted and history.added:
                    before, after = self.key_of(history.deleted[0]), self.key_of(history.added[0])
                    if before != after:
                        deltas[before] -= 1
                        deltas[after] += 1
        deleted = [obj for obj in session.deleted if isinstance(obj, self.model)]
        for obj in deleted:
            deltas[self.key_of(getattr(obj, self.attribute))] -= 1
        post_ids = [obj.id for obj in session.deleted if isinstance(obj, Post)]
        user_ids = [obj.id for obj in session.deleted if isinstance(obj, User)]
        if post_ids or user_ids:
            # Rows that go with them by ON DELETE CASCADE, which no ORM event sees.
            where = [self.removed_with(post_ids, user_ids)]
            if deleted:
                where.append(self.model.id.not_in([obj.id for obj in deleted]))
            for key, n in self.grouped(session.connection(), where).items():
                deltas[key] -= n
        return deltas


@dataclass(frozen=True, eq=False)
class StatusCounter(RowCounter):
    """The counts of `model`'s rows by status. The model's status column needs `active_history=True`: a status set
    on an expired row is otherwise changed without the one it replaces, and the change goes uncounted."""

    statuses: type[StrEnum]
    default: str  # the status of a new row that names none

    attribute = column = "status"

    def key_of(self, value) -> str:
        return value or self.default

    def key_expression(self):
        return self.model.status

    def counts(self) -> dict[str, int]:
        """The count of each status (every status present, zero when none)."""
        stored = self.stored_counts()
        return {status.value: stored.get(status.value, 0) for status in self.statuses}

    def true_counts(self, session=None) -> dict[str, int]:
        found = dict.fromkeys((status.value for status in self.statuses), 0)
        found.update(super().true_counts(session))
        return found

    def adjust_for_status_change(self, ids: list[int], new_status: str) -> None:
        """Before `UPDATE … SET status = new_status WHERE id IN ids AND status != new_status`."""
        connection = db.session.connection()
        moving = self.grouped(connection, [self.model.id.in_(ids), self.model.status != new_status])
        deltas = Counter({status: -n for status, n in moving.items()})
        deltas[new_status] += sum(moving.values())
        self.apply(connection, deltas)


@dataclass(frozen=True, eq=False)
class DayCounter(RowCounter):
    """The counts of `model`'s rows by the day (UTC) of their `created_at`, stored by `day`; days without rows have
    no stored row (or one of 0). `created_at` needs `active_history=True`, as a StatusCounter's status does."""

    attribute, column = "created_at", "day"

    def key_of(self, value) -> date:
        return value.date()

    def key_expression(self):
        return sa.func.date(self.model.created_at)

    def stored_key(self, value) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))  # SQLite's date() is text

    def value_of_new(self, obj):
        """Its moment, given now when the row names none (the column's default would give it at the INSERT, after
        the day is counted: a row written at midnight would be counted on the day before)."""
        if obj.created_at is None:
            obj.created_at = utcnow()
        return obj.created_at

    def counts_between(self, first: date, last: date) -> dict[date, int]:
        """The stored count of each day from `first` to `last`, both included (days without comments: absent)."""
        return self.stored_counts(self.key_column.between(first, last))


def _before_flush(session: Session, flush_context, instances) -> None:
    pending: dict = session.info.setdefault(_PENDING_KEY, {})
    for counter in COUNTERS:
        pending.setdefault(counter, Counter()).update(counter.flush_deltas(session))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING_KEY, None) or {}
    for counter in COUNTERS:
        deltas = pending.get(counter)
        if deltas:
            counter.apply(session.connection(), deltas)


def _forget(session: Session, *args) -> None:
    session.info.pop(_PENDING_KEY, None)


def listen(*counters: RowCounter) -> None:
    """Count every ORM change to the counters' rows in the flush that writes it."""
    COUNTERS.extend(counter for counter in counters if counter not in COUNTERS)
    for name, hook in (("before_flush", _before_flush), ("after_flush", _after_flush), ("after_rollback", _forget)):
        if not sa.event.contains(Session, name, hook):
            sa.event.listen(Session, name, hook)
