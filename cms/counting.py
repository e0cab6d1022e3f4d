"""Counting a list's matches without reading more than a cap of them (the console's "more than N")."""

from sqlalchemy import Select, func, select

from cms.extensions import db


def count_up_to(matches: Select, cap: int | None) -> tuple[int, bool]:
    """How many rows `matches` (a SELECT of ids, unordered) selects: (count, exact), stopping at `cap`.

    One statement asks for the row after the cap, reading at most cap + 1 index entries; only when there is
    none are the matches counted, which then reads at most cap. (A COUNT over `LIMIT cap + 1` reads as many,
    and MariaDB then copies them into a derived table and reads them a second time.)
    """
    if cap is not None and db.session.scalar(matches.limit(1).offset(cap)) is not None:
        return cap, False
    return db.session.scalar(select(func.count()).select_from(matches.subquery())) or 0, True
