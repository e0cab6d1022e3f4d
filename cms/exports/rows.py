"""The rows of a comment export: the selection read in primary-key order a chunk at a time, posts and
authors from bounded caches, every text cell neutralised against formula injection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cms import catalog_store
from cms.comments import CommentSelection, selection_clauses
from cms.extensions import db, replica_engine
from cms.models import Comment, Post, User

# Comments read per statement. 2,000 rather than more keeps a chunk's rows, their export rows and the csv
# buffer under ~3 MB; measured on 1,000,000 comments it costs no more CPU than 5,000 (benchmarks/results.md).
CHUNK = 2000
# Posts, and authors, kept in memory during one export: about 250 and 160 bytes each, so a newsroom's 100,000
# posts and 50,000 authors are all held (~32 MB). Beyond it the caches are emptied and refilled, and with
# comments spread over the posts at random every chunk then reads most of its posts again.
LOOKUP_LIMIT = 100_000
COLUMNS = (
    _l("ID"),
    _l("Post title"),
    _l("Post URL"),
    _l("Author username"),
    _l("Author email"),
    _l("Status"),
    _l("Created at (UTC)"),
    _l("Comment"),
)
# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str:
    """Make text that would start a formula inert by prefixing an apostrophe (OWASP's advice); line breaks
    inside a cell become plain line feeds, which every spreadsheet reader reads back the same."""
    if not value:
        return ""
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def header(locale: str) -> list[str]:
    """The column names in `locale`. Outside a request (the CLI, a worker) nothing has built this instance's
    catalogs yet, so they are brought up to date first, as before a request."""
    if not has_request_context():
        catalog_store.reload_if_changed(current_app._get_current_object())  # type: ignore[attr-defined]
    with force_locale(locale):
        return [str(label) for label in COLUMNS]


def _comment_chunks(selection: CommentSelection, chunk: int, session) -> Iterator[list[tuple]]:
    """The selected comments' own columns, a chunk at a time in primary-key order (keyset: no OFFSET,
    no sort, the primary key or the (status, id) index drives it). Read through the driver's cursor:
    at a million rows the ORM's per-row work would cost more than writing the file."""
    connection = session.connection()
    # The server writes the date as the export shows it (ISO 8601 UTC to the second): pymysql would turn
    # DATETIME into datetime objects, which costs more than the rest of the row, and formatting it again in
    # Python costs a third of the per-row work.
    if connection.dialect.name in ("mysql", "mariadb"):
        created_at: Any = sa.func.date_format(Comment.created_at, "%Y-%m-%dT%H:%i:%sZ")
    else:
        created_at = sa.func.strftime("%Y-%m-%dT%H:%M:%SZ", Comment.created_at)
    statement = (
        select(Comment.id, Comment.post_id, Comment.author_id, Comment.status, created_at, Comment.body)
        .where(Comment.id > sa.bindparam("last"), *selection_clauses(selection))
        .order_by(Comment.id)
        .limit(chunk)
    )
    compiled = statement.compile(dialect=connection.dialect)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    last = 0
    try:
        while True:
            named = compiled.construct_params({"last": last})
            # SQLite's qmark style wants a list; pymysql's pyformat takes the named dict as it is.
            params = [named[name] for name in compiled.positiontup or ()] if compiled.positional else named
            cursor.execute(compiled.string, params)
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]
    finally:
        cursor.close()


class _Lookup(dict):
    """A bounded cache of post or user columns, filled a chunk at a time with one IN query.

    An entry is its two cells joined by NUL, split again per row (`rsplit`): a tuple of two strings costs
    ~120 bytes more per entry. The second cell (a URL built from the slug, an email) holds no NUL, so a NUL in
    the first one (a title, a username) stays in it.

    When a chunk's new ids would take it past `limit` it is emptied first; it may then hold one chunk's
    ids even if those are more than `limit`, since every row of the chunk needs its entry."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def fill(self, cursor, by_ids: str, ids: set, build) -> None:
        # Not `ids - self.keys()`: a set minus a keys view walks every key held (100,000 per chunk).
        missing = {i for i in ids if i not in self}
        if not missing:
            return
        if len(self) + len(missing) > self.limit:
            self.clear()
            missing = ids  # what the chunk found here a moment ago is gone too
        cursor.execute(by_ids.format(",".join(str(int(i)) for i in missing)))
        for row in cursor.fetchall():
            self[row[0]] = build(*row)


def _by_ids(connection, *columns) -> str:
    """`SELECT columns … WHERE <first column> IN ({})` for the driver's cursor. The ids are integers read from
    the database, written into the statement: no parameter per id, no SQLAlchemy compile per chunk."""
    dialect = connection.dialect
    return f"{select(*columns).compile(dialect=dialect)} WHERE {columns[0].compile(dialect=dialect)} IN ({{}})"


def export_rows(
    selection: CommentSelection, base_url: str, chunk: int = CHUNK, session=None, cache_limit: int = LOOKUP_LIMIT
) -> Iterator[list[tuple]]:
    """Chunks of export rows in primary-key order, text cells already neutralised. Posts and authors come
    from small caches (of `cache_limit` entries each) rather than a join: a million random look-ups cost
    more than the comments. Read through `session`, else the read replica when one is configured (a session of
    its own, closed when the rows end), else `db.session`."""
    replica = replica_engine() if session is None else None
    if replica is not None:
        with Session(replica) as own:
            yield from export_rows(selection, base_url, chunk, own, cache_limit)
        return
    session = session or db.session
    base_url = base_url.rstrip("/")
    posts, authors = _Lookup(cache_limit), _Lookup(cache_limit)
    connection = session.connection()
    post_sql = _by_ids(connection, Post.id, Post.title, Post.locale, Post.slug)
    author_sql = _by_ids(connection, User.id, User.username, User.email)
    cursor = connection.connection.driver_connection.cursor()
    try:
        for rows in _comment_chunks(selection, chunk, session):
            posts.fill(
                cursor,
                post_sql,
                {r[1] for r in rows},
                lambda _, t, lc, s: f"{neutralise(t)}\0{base_url}/{lc}/posts/{s}",
            )
            authors.fill(cursor, author_sql, {r[2] for r in rows}, lambda _, u, e: f"{neutralise(u)}\0{neutralise(e)}")
            # The hot loop of a million-row export: no function calls for the common case.
            yield [
                (
                    comment_id,
                    *posts[post_id].rsplit("\0", 1),
                    *authors[author_id].rsplit("\0", 1),
                    status,
                    created_at,
                    neutralise(body) if body.startswith(FORMULA_STARTS) or "\r" in body else body,
                )
                for comment_id, post_id, author_id, status, created_at, body in rows
            ]
    finally:
        cursor.close()


def export_in_memory(selection: CommentSelection, locale: str, base_url: str) -> list[list]:
    """Header and rows as one list, for Flask-Excel's in-memory responses (small selections only)."""
    rows: list[list] = [header(locale)]
    for chunk in export_rows(selection, base_url):
        rows.extend(list(row) for row in chunk)
    return rows
