"""The rows of a comment export: the selection read a chunk at a time in the list's order where an index walks
it (else in primary-key order), posts and authors from bounded caches, statuses in the reader's language, every
text cell neutralised against formula injection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cms import catalog_store
from cms.comments import STATUS_LABELS, CommentSelection, selection_clauses
from cms.extensions import db, replica_engine
from cms.models import COMMENT_STATUSES, Comment, Post, User

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
    """The column names in `locale` (neutralised too: a translator writes them)."""
    catalogs_up_to_date()
    with force_locale(locale):
        return [neutralise(str(label)) for label in COLUMNS]


def status_labels(locale: str) -> dict[str, str]:
    """Each comment status as the queue names it in `locale` (neutralised, as the header)."""
    catalogs_up_to_date()
    with force_locale(locale):
        return {status: neutralise(str(label)) for status, label in STATUS_LABELS.items()}


def catalogs_up_to_date() -> None:
    """Outside a request (the CLI, a worker) nothing has built this instance's catalogs yet, so they are brought
    up to date first, as before a request."""
    if not has_request_context():
        catalog_store.reload_if_changed(current_app._get_current_object())  # type: ignore[attr-defined]


# -- the order ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowOrder:
    """The order of an export's rows: `column` is "id" or one the comment list sorts by; ties go by id, in
    the same direction (as the list breaks them)."""

    column: str = "id"
    descending: bool = False

    def to_json(self) -> dict:
        return {"column": self.column, "descending": self.descending}

    @classmethod
    def from_json(cls, data: dict | None) -> RowOrder | None:
        return cls(str(data["column"]), bool(data["descending"])) if data else None


ID_ORDER = RowOrder()
# The list's sortable columns an index walks with the id after it. Newest or oldest first: (created_at, id), alone or
# behind the status or the post (ix_comment_created_id, ix_comment_status_created, ix_comment_post_created), by
# keyset. By status: one status after the other, each by id on (status, id) (ix_comment_status_id): a keyset over
# (status, id) is read by MariaDB as a union of two ranges, sorted again for every chunk.
INDEXED_ORDERS = ("created_at", "status")


def order_for(selection: CommentSelection, asked: RowOrder | None) -> RowOrder:
    """The order the rows can take: the list's, when an index walks it for this selection, else id order. A
    search's matches come from the search index in no order of the list's: sorting them a chunk at a time
    would sort every match once per chunk. A slice of the ids (a second process's share) is walked by id."""
    if asked is None or asked.column not in INDEXED_ORDERS or selection.search:
        return ID_ORDER
    if selection.id_after is not None or selection.id_through is not None:
        return ID_ORDER
    return asked


@dataclass(frozen=True)
class RowStyle:
    """How the rows read: their order, each status's label (None: its code), and the date as ISO 8601 text or
    as a spreadsheet's serial number (days since 1899-12-30, which a cell with a date format shows as a date)."""

    order: RowOrder = ID_ORDER
    statuses: Mapping[str, str] | None = field(default=None, compare=False)
    serial_dates: bool = False


class _Labels(dict):
    """Status labels that give an unknown status its code, with no call in the hot loop for known ones."""

    def __missing__(self, key: str) -> str:
        return key


# 1899-12-30 is day 0 of a spreadsheet's dates; 1970-01-01 is day 25,569.
SERIAL_EPOCH_SECONDS = 25569 * 86400


def _created_at(dialect: str, serial: bool) -> Any:
    """The date as the export shows it, written by the server, to the second: ISO 8601 UTC text, or a serial
    number (a double: seconds since 1899-12-30 over 86,400, as a spreadsheet stores it). pymysql would turn
    DATETIME into datetime objects, which costs more than the rest of the row, and formatting it again in Python
    costs a third of the per-row work."""
    if dialect in ("mysql", "mariadb"):
        if serial:  # 86400e0, a double: a decimal literal would round the quotient to four places
            seconds: Any = sa.func.timestampdiff(sa.text("SECOND"), "1899-12-30", Comment.created_at)
            return seconds / sa.literal_column("86400e0")
        return sa.func.date_format(Comment.created_at, "%Y-%m-%dT%H:%i:%sZ")
    if serial:
        seconds = sa.cast(sa.func.strftime("%s", Comment.created_at), sa.Integer) + SERIAL_EPOCH_SECONDS
        return seconds / sa.literal_column("86400.0")
    return sa.func.strftime("%Y-%m-%dT%H:%M:%SZ", Comment.created_at)


def chunk_statements(selection: CommentSelection, chunk: int, style: RowStyle, dialect: str) -> tuple[Any, Any, bool]:
    """The statements of `_comment_chunks` in id order or by date: the first chunk's, the next ones' (bound to
    `last`, the last row's id, and by date to `mark`, its date as the database holds it), and whether the rows
    carry that mark as a seventh column."""
    created_at = _created_at(dialect, style.serial_dates)
    columns: list[Any] = [Comment.id, Comment.post_id, Comment.author_id, Comment.status, created_at, Comment.body]
    order = style.order
    key = Comment.created_at if order.column == "created_at" else None
    last_id = sa.bindparam("last", type_=sa.Integer)
    where = selection_clauses(selection)
    if key is None:
        if order.descending:
            statement = select(*columns).where(*where).order_by(Comment.id.desc()).limit(chunk)
            return statement, statement.where(Comment.id < last_id), False
        statement = select(*columns).where(*where).order_by(Comment.id).limit(chunk)
        return statement, statement.where(Comment.id > last_id), False
    # The mark is read with the row, as text on MariaDB: the date the rows show drops the fractions of a second
    # that order comments within one. (SQLite hands over the text it stores.)
    columns.append(sa.func.date_format(key, "%Y-%m-%d %H:%i:%s.%f") if dialect in ("mysql", "mariadb") else key)
    # (key, id) past the last row's: the key beyond the mark, or the same key and the id beyond. Written as a range
    # of the key and a filter, which every optimiser reads as a range of the index.
    mark: Any = sa.bindparam("mark")
    if order.descending:
        beyond = sa.and_(key <= mark, sa.or_(key < mark, Comment.id < last_id))
        ordering = (key.desc(), Comment.id.desc())
    else:
        beyond = sa.and_(key >= mark, sa.or_(key > mark, Comment.id > last_id))
        ordering = (key.asc(), Comment.id.asc())
    statement = select(*columns).where(*where).order_by(*ordering).limit(chunk)
    return statement, statement.where(beyond), True


def _comment_chunks(
    selection: CommentSelection, chunk: int, session, style: RowStyle = RowStyle()
) -> Iterator[list[tuple]]:
    """The selected comments' own columns, a chunk at a time in the style's order by keyset (no OFFSET, no
    sort: the primary key or an index of the order's column with the id after it drives it; see INDEXED_ORDERS).
    Read through the driver's cursor: at a million rows the ORM's per-row work would cost more than writing the
    file."""
    if style.order.column == "status":
        statuses = [selection.status] if selection.status else sorted(_statuses(session))
        by_id = replace(style, order=RowOrder("id", style.order.descending))
        for status in reversed(statuses) if style.order.descending else statuses:
            yield from _comment_chunks(replace(selection, status=status), chunk, session, by_id)
        return
    connection = session.connection()
    dialect = connection.dialect
    first, following, marked = chunk_statements(selection, chunk, style, dialect.name)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def prepare(statement):
        compiled = statement.compile(dialect=dialect)

        def run(**values) -> list[tuple]:
            named = compiled.construct_params(values)
            # SQLite's qmark style wants a list; pymysql's pyformat takes the named dict as it is.
            params = [named[name] for name in compiled.positiontup or ()] if compiled.positional else named
            cursor.execute(compiled.string, params)
            return cursor.fetchall()

        return run

    run_first, run_next = prepare(first), prepare(following)
    try:
        rows = run_first()
        while rows:
            last = rows[-1]
            if marked:
                yield [row[:6] for row in rows]
                rows = run_next(mark=last[6], last=last[0])
            else:
                yield rows
                rows = run_next(last=last[0])
    finally:
        cursor.close()


def _statuses(session) -> list[str]:
    """The statuses comments have (a loose scan of the (status, id) index): each is walked, with the filters."""
    return list(session.scalars(select(Comment.status).distinct()))


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
    selection: CommentSelection,
    base_url: str,
    chunk: int = CHUNK,
    session=None,
    cache_limit: int = LOOKUP_LIMIT,
    style: RowStyle = RowStyle(),
) -> Iterator[list[tuple]]:
    """Chunks of export rows in the style's order (see `order_for`: the caller decides), text cells already
    neutralised. Posts and authors come from small caches (of `cache_limit` entries each) rather than a join: a
    million random look-ups cost more than the comments.

    Read through `session`, else through a session of its own (closed when the rows end) on the read replica when
    one is configured, else on the primary: never `db.session`, which the caller commits as it reports progress.
    A commit hands that session's connection back to the pool while these rows' cursor still reads from it, and
    another thread of the process (a job's heartbeat, a worker's mail watch) could take it: two threads on one
    socket ("Packet sequence number wrong"). One connection also reads every chunk in one transaction, so a
    large export is one snapshot of the comments."""
    if session is None:
        with Session(replica_engine() or db.engine) as own:
            yield from export_rows(selection, base_url, chunk, own, cache_limit, style)
        return
    base_url = base_url.rstrip("/")
    posts, authors = _Lookup(cache_limit), _Lookup(cache_limit)
    statuses = _Labels({status: status for status in COMMENT_STATUSES}, **(style.statuses or {}))
    connection = session.connection()
    post_sql = _by_ids(connection, Post.id, Post.title, Post.locale, Post.slug)
    author_sql = _by_ids(connection, User.id, User.username, User.email)
    cursor = connection.connection.driver_connection.cursor()
    try:
        for rows in _comment_chunks(selection, chunk, session, style):
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
                    statuses[status],
                    created_at,
                    neutralise(body) if body.startswith(FORMULA_STARTS) or "\r" in body else body,
                )
                for comment_id, post_id, author_id, status, created_at, body in rows
            ]
    finally:
        cursor.close()
