"""Every order and filter of every console list on the benchmark data set (console.py's, on MariaDB): the most rows
one statement of the request examined (the session's Handler_read_* deltas) and the request's time in-process,
signed in as the administrator. console.py measures ten URLs against stock Flask-Admin; this finds the others that
read more than about 10,000 rows, and those whose page or count stopped at the product's ceiling
(LIST_ROWS_EXAMINED). Each filter is tried with the values its options offer, else with values of its
type: a text most rows hold ("a") and one none holds ("zqx"), a date, a flag. Nothing is asserted.
"""

import argparse
import os
import time
import urllib.parse

from common import progress, write_section
from console import (
    DEFAULT_URL,
    ROWS_EXAMINED_LIMIT,
    ROWS_PAST_THE_CAP,
    SCALE,
    capture,
    ensure_data,
    examine,
    product_app,
    short_sql,
    signed_in_client,
)

TEXTS = ["a", "zqx"]  # one that most usernames, titles or names hold, and one that none holds
MOMENT, SPAN = "2026-01-01 00:00:00", "2025-01-01 00:00:00 to 2026-06-01 00:00:00"


def filter_values(flt) -> list[str]:
    """Values to try a filter with: the first and last of its options, else values of its kind."""
    options = flt.get_options(None) if flt.options else None
    if options:
        return sorted({str(options[0][0]), str(options[-1][0])})
    kind = type(flt).__name__.lower()
    if "between" in kind:
        return [SPAN]
    if "date" in kind or "time" in kind:
        return [MOMENT]
    if "bool" in kind:
        return ["1", "0"]
    if "int" in kind:
        return ["42"]
    return TEXTS


def list_urls(app) -> list[str]:
    """Each sortable column of each model view both ways, then each filter with each of its values."""
    urls = []
    with app.test_request_context():
        for view in app.extensions["admin"][0]._views:
            if not hasattr(view, "_sortable_columns"):
                continue
            base = f"/admin/{view.endpoint}/"
            for index, (column, _) in enumerate(view._list_columns or []):
                if column in (view._sortable_columns or {}):
                    urls += [f"{base}?sort={index}", f"{base}?sort={index}&desc=1"]
            for arg, (_, flt) in (view._filter_args or {}).items():
                urls += [f"{base}?flt0_{arg}={urllib.parse.quote(value)}" for value in filter_values(flt)]
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("CMS_BENCH_CONSOLE_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--only", default="", help="the lists whose URL contains this text (printed, not written)")
    args = parser.parse_args()
    ensure_data(args.database_url, SCALE)
    app = product_app(args.database_url)
    client = signed_in_client(app)
    urls = [url for url in list_urls(app) if args.only in url]
    progress(f"{len(urls)} list URLs (every order both ways, every filter)")
    measured = []
    for number, url in enumerate(urls, 1):
        page = client.get(url).get_data(as_text=True)  # warm: the first request of a URL compiles its statements
        stopped = [what for what, mark in STOPPED if mark in page]
        started = time.perf_counter()
        statements = capture(app, client, url)
        milliseconds = (time.perf_counter() - started) * 1000
        examine(args.database_url, statements)
        worst = max(statements, key=lambda statement: statement.rows_examined)
        measured.append(
            (worst.rows_examined, milliseconds, url, short_sql(worst.sql, 300).replace("`", ""), ", ".join(stopped))
        )
        if number % 25 == 0 or number == len(urls):
            progress(f"{number} of {len(urls)} measured")
    text = report(measured)
    print(text)
    if not args.only:
        write_section("Every console order and filter (MariaDB)", text)
        progress("written to benchmarks/results.md")


# A capped count through a join reads the cap's rows and some of the joined table's: up to this share past the cap
# is "about 10,000". The product's ceiling (LIST_ROWS_EXAMINED, 12,000) lies there: a statement stopped at it has
# examined one row more (MariaDB counts the read that stops it).
ABOUT = 1.2
STOP_READ = 1
# What the page says when a statement stopped at LIST_ROWS_EXAMINED (cms.read_ceiling): the page, or its count.
STOPPED = [("page", 'id="list-too-wide"'), ("count", 'id="count-stopped"')]


def report(measured: list[tuple]) -> str:
    limit = ROWS_EXAMINED_LIMIT + ROWS_PAST_THE_CAP
    about = ABOUT * ROWS_EXAMINED_LIMIT + STOP_READ
    near = sorted(row for row in measured if limit < row[0] <= about)
    above = sorted((row for row in measured if row[0] > about), reverse=True)
    slowest = sorted(measured, key=lambda row: row[1], reverse=True)[:5]
    stopped = [row for row in measured if row[4]]
    lines = [
        f"{len(measured)} console list URLs: each sortable column both ways and each filter of every list, on the"
        " benchmark data set, in-process, signed in as the administrator (benchmarks/list_sweep.py).",
        "",
        f"- {len(measured) - len(near) - len(above)} read at most {limit:,} rows in any one statement (the capped"
        f" count's {ROWS_EXAMINED_LIMIT:,} and {ROWS_PAST_THE_CAP} past it).",
        f"- {len(near)} read up to {ABOUT:.0%} of the cap (a capped count through a join or a subquery, or a statement"
        " stopped at the ceiling): " + ", ".join(f"`{url}` {rows:,}" for rows, _, url, _, _ in near) + ".",
        f"- {len(above)} read more:",
        "",
        "| most rows one statement examined | ms | URL | that statement |",
        "| ---: | ---: | --- | --- |",
        *(f"| {rows:,} | {ms:.0f} | `{url}` | `{sql[:160]}…` |" for rows, ms, url, sql, _ in above),
        "",
        f"{len(stopped)} stopped a statement at the ceiling (LIST_ROWS_EXAMINED) and said so on the page instead of"
        " reading on (the page: no rows and a request to narrow the list; the count: not counted, the exact count a"
        " click away)" + (": " if stopped else ".") + ", ".join(f"`{url}` ({what})" for _, _, url, _, what in stopped),
        "",
        "The slowest requests: " + "; ".join(f"`{url}` {ms:.0f} ms" for _, ms, url, _, _ in slowest) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
