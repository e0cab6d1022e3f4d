"""A ceiling on the rows one statement may examine: MariaDB's `LIMIT ROWS EXAMINED`, which stops a SELECT once it
has read past the ceiling and says so in a warning (1931). The console's lists read within it, so that a filter
no index serves in the list's order (accounts with no role, old posts in the order of their last edit) stops with
a message instead of reading a whole table.

SQLite has no such clause: there the ceiling is not applied (the embedded default holds a small newsroom's data)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from cms.extensions import db

ROWS_EXAMINED_EXCEEDED = 1931  # ER_QUERY_EXCEEDED_ROWS_EXAMINED_LIMIT: "The query result may be incomplete"
SORT_ABORTED = 1028  # ER_FILSORT_ABORT: "Sort aborted: LIMIT ROWS EXAMINED"
# The statement's own LIMIT, last in its text (a subquery's LIMIT sits inside parentheses), takes the clause after
# it; a statement without one takes a LIMIT of its own. Parameters (`%(name)s`) are read as `?` for this.
_TRAILING_LIMIT = re.compile(r"\sLIMIT\s[^()]*$", re.IGNORECASE)
_LOCKING = re.compile(r"\s(FOR\s+UPDATE|LOCK\s+IN\s+SHARE\s+MODE)(\s[^()]*)?$", re.IGNORECASE)
_PARAMETER = re.compile(r"%\([^()]*\)s")


@dataclass
class ReadCeiling:
    """The rows a statement may examine (0: any number), and whether one of the block's statements was stopped at
    it and so returned only part of its rows."""

    rows: int
    exceeded: bool = False


_ceiling: ContextVar[ReadCeiling | None] = ContextVar("read_ceiling", default=None)


@contextmanager
def rows_examined_at_most(rows: int | None) -> Iterator[ReadCeiling]:
    """Within the block, each SELECT sent to MariaDB stops once it has examined more than `rows` rows (None or 0: no
    ceiling, also inside an outer block). Read the yielded ceiling's `exceeded` after the block: when true, a
    statement returned only part of its rows, or a sort stopped and the block ended there, and what the block read
    is not to be shown as the answer."""
    ceiling = ReadCeiling(rows or 0)
    token = _ceiling.set(ceiling if rows else None)
    try:
        yield ceiling
    except sa.exc.OperationalError as error:
        if not (ceiling.rows and stopped_sorting(error)):
            raise
        ceiling.exceeded = True  # the statement returned nothing, and the block's later statements did not run
    finally:
        _ceiling.reset(token)


def stopped_sorting(error: sa.exc.DBAPIError) -> bool:
    """Whether `error` is MariaDB stopping a sort at the ceiling: a sort (a filesort) stopped there is an error
    (1028), not a warning."""
    code = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return code == SORT_ABORTED and "ROWS EXAMINED" in str(error.orig).upper()


def init_app(app: Flask) -> None:
    """Apply the ceiling to the statements of every engine the app has (the replica's too) that turns out to be
    MariaDB's: MySQL has no LIMIT ROWS EXAMINED."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "mysql":
                event.listen(engine, "before_cursor_execute", _add_ceiling, retval=True)
                event.listen(engine, "after_cursor_execute", _note_stop)


def with_ceiling(statement: str, rows: int) -> str:
    """`statement` stopping after `rows` examined rows, when it is a SELECT that takes the clause."""
    text = statement.rstrip().rstrip(";")
    shape = _PARAMETER.sub("?", text)
    if not text.lstrip()[:6].upper() == "SELECT" or _LOCKING.search(shape):
        return statement
    if _TRAILING_LIMIT.search(shape):
        return f"{text} ROWS EXAMINED {int(rows)}"
    return f"{text} LIMIT ROWS EXAMINED {int(rows)}"


def _add_ceiling(conn, cursor, statement, parameters, context, executemany):
    ceiling = _ceiling.get()
    if ceiling is None or executemany or not getattr(conn.dialect, "is_mariadb", False):
        return statement, parameters
    return with_ceiling(statement, ceiling.rows), parameters


def _note_stop(conn, cursor, statement, parameters, context, executemany) -> None:
    """Mark the block's ceiling as exceeded when MariaDB says the statement stopped at it. PyMySQL reads the whole
    result before this runs, so the warnings are asked for on a cursor of their own (and only when there are
    any)."""
    ceiling = _ceiling.get()
    if ceiling is None or not getattr(cursor, "warning_count", 0):
        return
    with cursor.connection.cursor() as warnings:
        warnings.execute("SHOW WARNINGS")
        if any(row[1] == ROWS_EXAMINED_EXCEEDED for row in warnings.fetchall()):
            ceiling.exceeded = True
