"""The rows of a comment export: the selection read a chunk at a time in the list's order where an index walks
it (else in primary-key order), posts and authors from bounded caches, statuses in the reader's language, every
text cell neutralised against formula injection."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import pymysql
import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cms import catalog_store
from cms.comments import STATUS_LABELS, CommentSelection, only_status, selection_clauses
from cms.extensions import db, replica_engine
from cms.models import COMMENT_STATUSES, Comment, Post, User

log = logging.getLogger("cms.exports")

# Comments read per statement. 2,000 rather than more keeps a chunk's rows, their export rows and the csv
# buffer under ~3 MB; measured on 1,000,000 comments it costs no more CPU than 5,000 (benchmarks/results.md).
CHUNK = 2000
# Posts, and authors, kept in memory during one export: about 250 and 160 bytes each, so a newsroom's 100,000
# posts (with a tenth more to grow) and 50,000 authors are all held (~35 MB). Beyond it the caches are emptied and
# refilled, and with comments spread over the posts at random every chunk then reads most of its posts again.
LOOKUP_LIMIT = 110_000
# Entries a look-up reads a chunk at a time before it reads its whole table, if that fits (see _Lookup).
WHOLE_TABLE_AFTER = 10_000
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
    if serial:  # SQLite's %s rounds to the millisecond (…:36.9996 gives :37): count from the text's whole second
        second = sa.func.strftime("%Y-%m-%d %H:%M:%S", Comment.created_at)
        seconds = sa.cast(sa.func.strftime("%s", second), sa.Integer) + SERIAL_EPOCH_SECONDS
        return seconds / sa.literal_column("86400.0")
    return sa.func.strftime("%Y-%m-%dT%H:%M:%SZ", Comment.created_at)


def row_cells(style: RowStyle, dialect: str) -> list[Any]:
    """A comment's columns after its id, as `export_rows` reads them: post, author, status, date, body."""
    return [Comment.post_id, Comment.author_id, Comment.status, _created_at(dialect, style.serial_dates), Comment.body]


def chunk_statements(
    selection: CommentSelection, chunk: int, style: RowStyle, dialect: str, cells: list[Any] | None = None
) -> tuple[Any, Any, bool]:
    """The statements of `_comment_chunks` in id order or by date: the first chunk's, the next ones' (bound to
    `last`, the last row's id, and by date to `mark`, its date as the database holds it), and whether the rows
    carry that mark as a last column. Each row is the id, then `cells` (by default `row_cells`)."""
    columns: list[Any] = [Comment.id, *(row_cells(style, dialect) if cells is None else cells)]
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
    selection: CommentSelection, chunk: int, session, style: RowStyle = RowStyle(), cells: list[Any] | None = None
) -> Iterator[list[tuple]]:
    """The selected comments' own columns, a chunk at a time in the style's order by keyset (no OFFSET, no
    sort: the primary key or an index of the order's column with the id after it drives it; see INDEXED_ORDERS).
    Read through the driver's cursor: at a million rows the ORM's per-row work would cost more than writing the
    file."""
    if style.order.column == "status":
        statuses = [selection.status] if selection.status else sorted(_statuses(session))
        by_id = replace(style, order=RowOrder("id", style.order.descending))
        for status in reversed(statuses) if style.order.descending else statuses:
            yield from _comment_chunks(replace(selection, status=status), chunk, session, by_id, cells)
        return
    connection = session.connection()
    dialect = connection.dialect
    first, following, marked = chunk_statements(selection, chunk, style, dialect.name, cells)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    run_first, run_next = _prepared(cursor, first, dialect), _prepared(cursor, following, dialect)
    try:
        rows = run_first()
        while rows:
            last = rows[-1]
            if marked:
                yield [row[:-1] for row in rows]
                rows = run_next(mark=last[-1], last=last[0])
            else:
                yield rows
                rows = run_next(last=last[0])
    finally:
        cursor.close()


# -- many comments to a result row (PyMySQL) ---------------------------------------------------------------
# PyMySQL decodes each row of a result in Python, ~7 µs a row whatever its width: half of a million-row csv export's
# time. A csv export in id order of every comment (or of one status, a slice of ids) therefore reads each span of ids
# as ONE row: its count and its rows' text joined by NUL (GROUP_CONCAT), split again here (`_grouped_chunks`).
GROUP_BYTES = 8 * 1024 * 1024  # the most text one grouped read returns (group_concat_max_len); a longer span is halved
SPAN_GROWTH = 64  # a span of ids grows to at most this many chunks when the selection is sparse in them


def grouped_reads(selection: CommentSelection, style: RowStyle, connection) -> bool:
    """Whether a csv export reads its comments grouped: on PyMySQL, in id order, selected by status and id slice
    alone. Narrower filters (a post, an author, dates, a search) select few comments spread over the ids, which the
    index of their filter finds faster than spans of ids would."""
    unsliced = replace(selection, id_after=None, id_through=None)
    return connection.dialect.driver == "pymysql" and style.order == ID_ORDER and only_status(unsliced)


class _GroupedRead:
    """The rows of a table selected by `where`, each as the text "id,cell,cell…" (`id_column`, then `cells`), for the
    ids of a span, `lo < id <= hi`, read as one row: their count and their texts joined by NUL (`read`); all of them,
    span after span (`every`). Used as a context manager, it sets the session's group_concat_max_len for its reads
    and puts it back after.

    The texts are split on NUL and kept only when there are as many as counted and the whole was not cut at the
    group limit; else (a NUL in a body, a span of long comments) the span is read in halves, and a span of at most
    `rows_at_once` ids row by row, in id order. Otherwise they come in the order the server read them."""

    def __init__(self, connection, id_column: Any, cells: list[Any], where: list, rows_at_once: int) -> None:
        dialect = connection.dialect
        comma = sa.literal(",", sa.Text)
        text = sa.func.concat(id_column, *(part for cell in cells for part in (comma, cell)), type_=sa.Text)
        self.connection, self.id_column, self.where = connection, id_column, where
        lo, hi = sa.bindparam("lo", type_=sa.Integer), sa.bindparam("hi", type_=sa.Integer)
        span = (*where, id_column > lo, id_column <= hi)
        self.cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.grouped = _prepared(
            self.cursor, select(sa.func.count(), sa.func.aggregate_strings(text, "\0")).where(*span), dialect
        )
        self.one_by_one = _prepared(self.cursor, select(text).where(*span).order_by(id_column), dialect)
        self.rows_at_once = rows_at_once

    def __enter__(self) -> _GroupedRead:
        self.cursor.execute("SELECT @@SESSION.group_concat_max_len, @@max_allowed_packet")
        self.before, packet = self.cursor.fetchone()
        self.limit = min(GROUP_BYTES, packet // 2)
        self.cursor.execute("SET SESSION group_concat_max_len = %s", (self.limit,))
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.cursor.execute("SET SESSION group_concat_max_len = %s", (self.before,))
        finally:
            self.cursor.close()

    def read(self, lo: int, hi: int) -> list[str]:
        ((count, joined),) = self.grouped(lo=lo, hi=hi)
        if not count:
            return []
        parts = joined.split("\0")
        # Cut at the limit, the text is within 4 bytes of it (the server cuts between characters).
        if len(parts) == count and (len(joined) * 4 < self.limit - 4 or len(joined.encode()) < self.limit - 4):
            return parts
        if hi - lo > self.rows_at_once:
            middle = (lo + hi) // 2
            return self.read(lo, middle) + self.read(middle, hi)
        return [row[0] for row in self.one_by_one(lo=lo, hi=hi)]

    def every(self, rows: int) -> Iterator[list[str]]:
        """`spans` from the lowest selected id to the highest one now: rows made later are not read."""
        first, top = self.connection.execute(
            select(sa.func.min(self.id_column), sa.func.max(self.id_column)).where(*self.where)
        ).one()
        if first is not None:
            yield from self.spans(first - 1, top, rows)

    def spans(self, lo: int, top: int, rows: int) -> Iterator[list[str]]:
        """`read` over every span from `lo` to `top`, each about `rows` rows: a span is scaled by how many the last
        one held, at most doubled, and grows to at most SPAN_GROWTH times `rows` ids."""
        span = rows
        while lo < top:
            hi = min(lo + span, top)
            parts = self.read(lo, hi)
            if parts:
                yield parts
            held = len(parts)
            span = max(1, min(span * 2, rows * SPAN_GROWTH, span * rows // held if held else span * 2))
            lo = hi


def _grouped_chunks(selection: CommentSelection, chunk: int, session, cells: list[Any]) -> Iterator[list[tuple]]:
    """`_comment_chunks` in id order for `grouped_reads`, `cells` being the post's id, the author's and one text,
    read by `_GroupedRead` as "id,post,author,text", about `chunk` comments a read, and sorted by id where the server
    read them in another order. Comments made after the export started (ids above the highest one then) are not
    read."""
    with _GroupedRead(session.connection(), Comment.id, cells, selection_clauses(selection), chunk) as reader:
        for parts in reader.every(chunk):
            rows = []
            for part in parts:
                i, post_id, author_id, cell = part.split(",", 3)
                rows.append((int(i), int(post_id), int(author_id), cell))
            if any(rows[k][0] > rows[k + 1][0] for k in range(len(rows) - 1)):
                rows.sort()
            yield rows


def _prepared(cursor, statement, dialect) -> Callable[..., list[tuple]]:
    """`statement` compiled once: a function of its parameters' values giving its rows."""
    compiled = statement.compile(dialect=dialect)

    def run(**values) -> list[tuple]:
        named = compiled.construct_params(values)
        # SQLite's qmark style wants a list; pymysql's pyformat takes the named dict as it is.
        params = [named[name] for name in compiled.positiontup or ()] if compiled.positional else named
        cursor.execute(compiled.string, params)
        return cursor.fetchall()

    return run


def _statuses(session) -> list[str]:
    """The statuses comments have (a loose scan of the (status, id) index): each is walked, with the filters."""
    return list(session.scalars(select(Comment.status).distinct()))


class _Lookup(dict):
    """A bounded cache of post or user columns, filled a chunk at a time with one IN query, or at once.

    When a chunk's new ids would take it past `limit` it is emptied first; it may then hold one chunk's
    ids even if those are more than `limit`, since every row of the chunk needs its entry.

    Once it has read `whole_after` entries a chunk at a time, it reads the whole table in one statement if the
    table fits in `limit`: an export that has met that many posts meets most of them, and ids in no order read
    the table's pages at random, which the server's buffer pool, filled by the comments, no longer holds.

    `grouped` (PyMySQL): the columns are the id and the entry's text, written by the database, and the whole table is
    read many entries to a result row (`_GroupedRead`)."""

    def __init__(
        self, connection, limit: int, build, *columns, whole_after: int | None = None, grouped: bool = False
    ) -> None:
        super().__init__()
        self.limit, self.build, self.connection = limit, build, connection
        self.grouped, self.columns = grouped, columns
        self.whole_after = WHOLE_TABLE_AFTER if whole_after is None else whole_after
        self.read = 0  # entries read a chunk at a time; the whole table is tried once, when this reaches whole_after
        dialect = connection.dialect
        # An entry written by the database holds literals; pyformat drivers read the statement's %% back as % only when
        # executed with parameters (an empty tuple).
        literal = {"literal_binds": True}
        everything = select(*columns).compile(dialect=dialect, compile_kwargs=literal)
        self.by_ids = f"{everything} WHERE {columns[0].compile(dialect=dialect)} IN "  # then the ids, not .format():
        # the literals may hold braces (a base URL)
        self.whole = str(everything)
        size = select(sa.func.count()).select_from(select(columns[0]).limit(limit + 1).subquery())
        self.size = str(size.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        self.driver_connection = connection.connection.driver_connection
        self.pymysql = dialect.driver == "pymysql"

    def fill(self, cursor, ids: set) -> set:
        """Have an entry for every id in `ids`; the ids the table no longer holds. (The ids are integers read from
        the database, written into the statement: no parameter per id, no SQLAlchemy compile per chunk.)

        Even after the whole table, ids are checked: each statement reads what is committed when it starts (SQLite;
        MariaDB at READ COMMITTED), so a post made during the export can come after it, and one deleted since its
        comments were read is gone."""
        # Not `ids - self.keys()`: a set minus a keys view walks every key held (100,000 per chunk). A keys view's
        # >= looks up each of `ids` in C, and once the whole table is held every id is almost always there.
        if self.keys() >= ids:
            return set()
        missing = {i for i in ids if i not in self}
        self.read += len(missing)
        if self.read >= self.whole_after and self.read - len(missing) < self.whole_after and self._fill_whole(cursor):
            return {i for i in missing if i not in self}
        if len(self) + len(missing) > self.limit:
            self.clear()
            missing = ids  # what the chunk found here a moment ago is gone too
        cursor.execute(f"{self.by_ids}({','.join(str(int(i)) for i in missing)})", ())
        self._add(cursor.fetchall())
        return {i for i in missing if i not in self}

    def _fill_whole(self, cursor) -> bool:
        """Read the whole table when it holds at most `limit` rows; whether it did. On PyMySQL it streams (an
        unbuffered cursor): a buffered read of 100,000 posts would hold them all twice for a moment, ~30 MB more."""
        cursor.execute(self.size)
        if cursor.fetchone()[0] > self.limit:
            return False
        if self.grouped:
            key, entry = self.columns
            with _GroupedRead(self.connection, key, [entry], [], CHUNK) as reader:
                for parts in reader.every(CHUNK):
                    for part in parts:
                        i, value = part.split(",", 1)
                        self[int(i)] = value
            return True
        whole = self.driver_connection.cursor(pymysql.cursors.SSCursor) if self.pymysql else cursor
        try:
            whole.execute(self.whole, ())
            while rows := whole.fetchmany(CHUNK):
                self._add(rows)
        finally:
            if whole is not cursor:
                whole.close()
        return True

    def _add(self, rows) -> None:
        build = self.build
        for row in rows:
            self[row[0]] = build(*row)


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
    socket ("Packet sequence number wrong"). Each statement reads what is committed when it starts (SQLite; MariaDB
    at READ COMMITTED): the keyset reads every comment that lasts the export once, and a comment whose post or
    author is deleted meanwhile is left out (`_with_posts_and_authors`)."""
    statuses = _Labels({status: status for status in COMMENT_STATUSES}, **(style.statuses or {}))
    for rows, posts, authors in _with_posts_and_authors(
        selection, base_url, chunk, session, cache_limit, style, TUPLES
    ):
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


def csv_text(
    selection: CommentSelection,
    base_url: str,
    chunk: int = CHUNK,
    session=None,
    cache_limit: int = LOOKUP_LIMIT,
    style: RowStyle = RowStyle(),
) -> Iterator[tuple[str, int]]:
    """The rows of `export_rows` as the csv module writes them (its excel dialect: minimal quoting, CRLF), a chunk
    at a time with its number of rows. The database writes each comment's own cells, status, date and body, as
    one column of csv text (`comment_csv_cells`), and each post's and author's cells once, into its look-up entry
    (`_csv_lookups`): the driver decodes four columns a row instead of six, and Python joins four strings. Read as
    `export_rows`; on PyMySQL every comment, a status or a slice of ids in id order many comments to a result row
    (`grouped_reads`)."""
    for rows, posts, authors in _with_posts_and_authors(selection, base_url, chunk, session, cache_limit, style, CSV):
        text = "".join(
            [f"{i},{posts[post_id]},{authors[author_id]},{cells}\r\n" for i, post_id, author_id, cells in rows]
        )
        yield text, len(rows)


class Shape(NamedTuple):
    """How an export's chunks read: `cells(style, dialect)`, a comment's columns after its id (the first two its
    post's and author's ids), and `lookups(connection, cache_limit, base_url, grouped)`, the posts' and authors'
    caches with what each keeps for a post and an author."""

    cells: Callable[[RowStyle, str], list[Any]]
    lookups: Callable[..., tuple[_Lookup, _Lookup]]


def _with_posts_and_authors(
    selection, base_url, chunk, session, cache_limit, style, shape: Shape
) -> Iterator[tuple[list[tuple], _Lookup, _Lookup]]:
    """Each chunk of comments (the id, then `shape.cells`) with the look-ups holding every post and author it
    names, their entries made by `shape`."""
    if session is None:
        with Session(replica_engine() or db.engine) as own:
            yield from _with_posts_and_authors(selection, base_url, chunk, own, cache_limit, style, shape)
        return
    base_url = base_url.rstrip("/")
    connection = session.connection()
    cells = shape.cells(style, connection.dialect.name)
    grouped = shape is CSV and grouped_reads(selection, style, connection)
    posts, authors = shape.lookups(connection, cache_limit, base_url, grouped)
    if grouped:
        chunks = _grouped_chunks(selection, chunk, session, cells)
    else:
        chunks = _comment_chunks(selection, chunk, session, style, cells)
    cursor = connection.connection.driver_connection.cursor()
    try:
        for rows in chunks:
            gone_posts, gone_authors = (
                posts.fill(cursor, {r[1] for r in rows}),
                authors.fill(cursor, {r[2] for r in rows}),
            )
            if gone_posts or gone_authors:
                # Deleted since the chunk was read, and their comments with them: the later chunks no longer hold
                # them either.
                rows = [r for r in rows if r[1] not in gone_posts and r[2] not in gone_authors]
                log.info(
                    "export: comments of %d post(s) and %d author(s) deleted meanwhile left out",
                    len(gone_posts),
                    len(gone_authors),
                )
            yield rows, posts, authors
    finally:
        cursor.close()


def _tuple_lookups(connection, cache_limit: int, base_url: str, grouped: bool) -> tuple[_Lookup, _Lookup]:
    """The posts' and authors' look-ups of `export_rows`: an entry is its two cells joined by NUL, split again per
    row (`rsplit`; a tuple of two strings costs ~120 bytes more per entry). The second cell (a URL built from the
    slug, an email) holds no NUL, so a NUL in the first one (a title, a username) stays in it."""

    def post(_, title, locale, slug):
        return f"{neutralise(title)}\0{base_url}/{locale}/posts/{slug}"

    def author(_, username, email):
        return f"{neutralise(username)}\0{neutralise(email)}"

    return (
        _Lookup(connection, cache_limit, post, Post.id, Post.title, Post.locale, Post.slug),
        _Lookup(connection, cache_limit, author, User.id, User.username, User.email),
    )


def _csv_lookups(connection, cache_limit: int, base_url: str, grouped: bool) -> tuple[_Lookup, _Lookup]:
    """The posts' and authors' look-ups of `csv_text`: each entry its cells as csv, written by the database
    (`_csv_cell`). A grouped export reads them many to a result row, and each its whole table at the first chunk
    when the table fits in `cache_limit`: such an export reads every comment, a status's or a process's share of
    them, which name most posts and authors, and 10,000 of them read by ids first cost as much as the whole table."""
    dialect, comma = connection.dialect.name, sa.literal(",", sa.Text)
    url = sa.literal(f"{base_url}/", sa.Text) + Post.locale + sa.literal("/posts/", sa.Text) + Post.slug
    post = _csv_cell(Post.title, dialect) + comma + _csv_cell(url, dialect, inert=False)
    author = _csv_cell(User.username, dialect) + comma + _csv_cell(User.email, dialect)
    whole_after = 1 if grouped else None
    return (
        _Lookup(connection, cache_limit, _entry, Post.id, post, whole_after=whole_after, grouped=grouped),
        _Lookup(connection, cache_limit, _entry, User.id, author, whole_after=whole_after, grouped=grouped),
    )


def _entry(_, entry: str) -> str:
    """A look-up entry the database wrote whole."""
    return entry


# -- csv text written by the database --------------------------------------------------------------------
def csv_cells(*values: str) -> str:
    """`values` as one line of the csv module's writing, without its line end: the status labels, which the
    database writes into every row as literals."""
    buffer = io.StringIO()  # one per call: exports run in worker threads and in requests at once
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()[:-2]


def comment_csv_cells(style: RowStyle, dialect: str) -> list[Any]:
    """The post's and author's ids, then the comment's status (in the style's labels), date and body as the
    csv module writes those three cells of a row, neutralised as `neutralise` does: composed by the database.

    Each expression below is evaluated by the server as often as it is written, for every row: the body is
    searched once for the characters that need quoting, and only a quoted body has its line breaks and quotes
    replaced (neutralising turns CR into LF, both of which need the quotes anyway)."""
    labels: dict[str, str] = {**{status: status for status in COMMENT_STATUSES}, **(style.statuses or {})}
    status = sa.case(
        *((Comment.status == code, sa.literal(csv_cells(label), sa.Text)) for code, label in labels.items()),
        else_=_csv_cell(Comment.status, dialect),
    )
    date = sa.type_coerce(_created_at(dialect, serial=False), sa.Text)
    comma = sa.literal(",", sa.Text)
    return [Comment.post_id, Comment.author_id, status + comma + date + comma + _csv_cell(Comment.body, dialect)]


def _text(name: str, *args) -> Any:
    return getattr(sa.func, name)(*args, type_=sa.Text)


def _csv_cell(column: Any, dialect: str, inert: bool = True) -> Any:
    """`neutralise(column)` as the csv module's minimal quoting writes it, in SQL: an apostrophe before a formula's
    first character; a cell holding a comma, a double quote or a line break in double quotes, its own doubled and
    its CR LF and CR as LF.

    Characters are compared by code, never by the column's collation, under which a full-width equals sign is the
    ASCII one. On MariaDB the search is one REGEXP (PCRE, by code point: as fast as reading the column, where
    INSTR by the collation took five times as long); SQLite's INSTR compares bytes."""
    value = sa.func.coalesce(sa.type_coerce(column, sa.Text), sa.literal("", sa.Text), type_=sa.Text)
    if dialect in ("mysql", "mariadb"):
        first = sa.func.ord(value)
        needs_quotes: Any = value.regexp_match(sa.literal('[,"\r\n]'))
    else:
        first = sa.func.unicode(value)
        needs_quotes = sa.or_(*(sa.func.instr(value, sa.literal(c)) > 0 for c in (",", '"', "\n", "\r")))
    if not inert:  # the cell as it is (a URL the export builds)
        quoted_as_is = sa.literal('"', sa.Text) + _text("replace", value, sa.literal('"'), sa.literal('""'))
        return sa.case((needs_quotes, quoted_as_is + sa.literal('"', sa.Text)), else_=value)
    codes: list[Any] = [sa.literal_column(str(ord(c))) for c in FORMULA_STARTS]
    prefix = sa.case((first.in_(codes), sa.literal("'", sa.Text)), else_=sa.literal("", sa.Text))
    lines = _text(
        "replace", _text("replace", value, sa.literal("\r\n"), sa.literal("\n")), sa.literal("\r"), sa.literal("\n")
    )
    quoted = (
        sa.literal('"', sa.Text)
        + prefix
        + _text("replace", lines, sa.literal('"'), sa.literal('""'))
        + sa.literal('"', sa.Text)
    )
    return sa.case((needs_quotes, quoted), else_=prefix + value)


# What export_rows and csv_text read.
TUPLES = Shape(row_cells, _tuple_lookups)
CSV = Shape(comment_csv_cells, _csv_lookups)
