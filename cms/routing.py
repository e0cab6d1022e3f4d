"""Whole numbers from URLs, kept to what a database statement can take."""

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# The largest whole number a statement's parameter may hold: SQLite's INTEGER and MariaDB's BIGINT.
LARGEST_INTEGER = 2**63 - 1


class StoredIntegerConverter(IntegerConverter):
    """`<int:…>` in every route: a number past LARGEST_INTEGER matches no route (404). It used to reach the
    database, where SQLite refused it (OverflowError, a 500)."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = LARGEST_INTEGER,
        signed: bool = False,
    ):
        super().__init__(map, fixed_digits, min, max, signed)


def stored_int(text: str) -> int:
    """`text` as a whole number a statement can take (`request.args.get(..., type=stored_int)` falls back to its
    default otherwise); ValueError for anything else."""
    number = int(text)
    if abs(number) > LARGEST_INTEGER:
        raise ValueError(f"{text} is past the largest whole number a database takes")
    return number


def past_any_row(page: int, per_page: int) -> bool:
    """Whether page `page` (from 1) of `per_page` rows would skip more rows than a table can hold: its offset is
    past LARGEST_INTEGER, which the database would refuse."""
    return (page - 1) * per_page > LARGEST_INTEGER


def init_app(app: Flask) -> None:
    """Before any route is added: converters are looked up as each rule is bound."""
    app.url_map.converters["int"] = StoredIntegerConverter
