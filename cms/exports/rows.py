"""The rows of a comment export: the selection read in primary-key order a chunk at a time, posts and
authors from bounded caches, every text cell neutralised against formula injection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cms.comments import CommentSelection, selection_clauses
from cms.extensions import db, replica_engine
from cms.models import Comment, Post, User

CHUNK = 5000
LOOKUP_LIMIT = 50_000  # posts, and authors, kept in memory during one export
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
    with force_locale(locale):
        return [str(label) for label in COLUMNS]


def _iso(value) -> str:
    """ISO 8601 UTC to the second, from what the driver returns (SQLite: text, MariaDB: datetime)."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    return value.isoformat(timespec="seconds") + "Z"


def _comment_chunks(selection: CommentSelection, chunk: int, session) -> Iterator[list[tuple]]:
    """The selected comments' own columns, a chunk at a time in primary-key order (keyset: no OFFSET,
    no sort, the primary key or the (status, id) index drives it). Read through the driver's cursor:
    at a million rows the ORM's per-row work would cost more than writing the file."""
    connection = session.connection()
    created_at: Any = Comment.created_at
    if connection.dialect.name in ("mysql", "mariadb"):
        # pymysql turns DATETIME into datetime objects in Python, which costs more than the rest of the row.
        created_at = sa.func.date_format(Comment.created_at, "%Y-%m-%dT%H:%i:%sZ")
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

    When a chunk's new ids would take it past `limit` it is emptied first; it may then hold one chunk's
    ids even if those are more than `limit`, since every row of the chunk needs its entry."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def fill(self, session, ids: set, query, build) -> None:
        missing = ids - self.keys()
        if not missing:
            return
        if len(self) + len(missing) > self.limit:
            self.clear()
            missing = ids  # what the chunk found here a moment ago is gone too
        for row in session.execute(query.where(query.selected_columns[0].in_(missing))):
            self[row[0]] = build(*row)


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
    post_query = select(Post.id, Post.title, Post.locale, Post.slug)
    author_query = select(User.id, User.username, User.email)
    for rows in _comment_chunks(selection, chunk, session):
        posts.fill(
            session, {r[1] for r in rows}, post_query, lambda _, t, lc, s: (neutralise(t), f"{base_url}/{lc}/posts/{s}")
        )
        authors.fill(session, {r[2] for r in rows}, author_query, lambda _, u, e: (neutralise(u), neutralise(e)))
        # The hot loop of a million-row export: no function calls for the common case.
        yield [
            (
                comment_id,
                *posts[post_id],
                *authors[author_id],
                status,
                f"{created_at[:10]}T{created_at[11:19]}Z" if type(created_at) is str else _iso(created_at),
                neutralise(body) if body.startswith(FORMULA_STARTS) or "\r" in body else body,
            )
            for comment_id, post_id, author_id, status, created_at, body in rows
        ]


def export_in_memory(selection: CommentSelection, locale: str, base_url: str) -> list[list]:
    """Header and rows as one list, for Flask-Excel's in-memory responses (small selections only)."""
    rows: list[list] = [header(locale)]
    for chunk in export_rows(selection, base_url):
        rows.extend(list(row) for row in chunk)
    return rows
