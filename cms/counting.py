"""Counting a list's matches without reading more than a cap of them (the console's "more than N")."""

from sqlalchemy import ColumnElement, Select, case, func, literal, select

from cms.extensions import db


def count_up_to(matches: Select, cap: int | None) -> tuple[int, bool]:
    """How many rows `matches` (a SELECT of ids, unordered) selects: (count, exact), stopping at `cap`.

    One statement: it asks for the row after the cap, which reads at most cap + 1 index entries, and only
    when there is none (CASE evaluates the branch it takes, on MariaDB and SQLite) counts the matches, which
    are then at most cap. A COUNT over `LIMIT cap + 1` would read as many, and MariaDB would copy them into a
    derived table and read them a second time.
    """
    counted = select(func.count()).select_from(matches.subquery()).scalar_subquery()
    if cap is None:
        return db.session.scalar(select(counted)) or 0, True
    beyond = matches.with_only_columns(literal(1), maintain_column_froms=True).limit(1).offset(cap).scalar_subquery()
    found = db.session.scalar(select(case((beyond.is_(None), counted), else_=-1)))
    return (cap, False) if found == -1 else (found or 0, True)


def hits_in_first(rows: Select, holds: ColumnElement[bool] | None, limit: int) -> tuple[int, int]:
    """Of the first `limit` rows that `rows` selects (in its order, if it has one), how many satisfy `holds` (None:
    every row), and how many were read: one read that stops at `limit` rows, the clause tested on each."""
    hit = case((holds, 1), else_=0) if holds is not None else literal(1)
    read = rows.with_only_columns(hit.label("hit"), maintain_column_froms=True).limit(limit).subquery()
    found, read_rows = db.session.execute(select(func.coalesce(func.sum(read.c.hit), 0), func.count())).one()
    return int(found), int(read_rows)


def count_within_limit(matches: Select, cap: int | None) -> tuple[int, bool]:
    """count_up_to as a COUNT over `LIMIT cap + 1`: the form for matches found by a full-text MATCH. Mroonga runs
    the full-text look-up of every MATCH in a statement when the statement starts, whether its rows are read or
    not, so count_up_to's two branches would pay for it twice (119 ms against 59 ms for a word in 20,000 of a
    million comments)."""
    if cap is None:
        return count_up_to(matches, None)
    found = db.session.scalar(select(func.count()).select_from(matches.limit(cap + 1).subquery())) or 0
    return (cap, False) if found > cap else (found, True)
