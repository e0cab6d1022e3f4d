"""The rows of an export: every comment of the selection with its own post and author, however small the
look-up caches, in the list's order where an index walks it, statuses in the reader's language, and text that
would start a formula made inert."""

import csv
import io
import sys
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from cms.comments import CommentSelection
from cms.exports.rows import (
    CHUNK,
    ID_ORDER,
    LOOKUP_LIMIT,
    RowOrder,
    RowStyle,
    _Lookup,
    export_rows,
    neutralise,
    order_for,
    status_labels,
)
from cms.extensions import db
from cms.models import Comment, Post
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import database_csv, expected_rows, module_csv


@pytest.fixture
def spread(users):
    """42 comments by 6 authors on 7 posts, so consecutive comments name different posts and authors."""
    authors = list(users.values())
    posts = [make_post(users["author"], "published", title=f"Story {n}") for n in range(7)]
    for n in range(42):
        make_comment(authors[n % len(authors)], posts[n % len(posts)], body=f"comment {n}", status="approved")


@pytest.mark.parametrize(
    ("chunk", "cache_limit"),
    [(4, 3), (5000, 3), (4, 1), (7, 7), (CHUNK, LOOKUP_LIMIT)],
    ids=["chunks-above-limit", "one-chunk-above-limit", "limit-one", "limit-equals-posts", "default-limit"],
)
def test_every_row_names_its_own_post_and_author_whatever_the_cache_limit(app, spread, chunk, cache_limit):
    rows = [
        list(row)
        for part in export_rows(CommentSelection(), "http://localhost/", chunk=chunk, cache_limit=cache_limit)
        for row in part
    ]
    assert len(rows) == 42
    assert rows == expected_rows()


@pytest.mark.parametrize(("chunk", "sizes"), [(42, [42]), (41, [41, 1])], ids=["one-full-chunk", "one-row-more"])
def test_rows_come_a_chunk_at_a_time(app, spread, chunk, sizes):
    parts = list(export_rows(CommentSelection(), "http://localhost/", chunk=chunk))
    assert [len(part) for part in parts] == sizes
    assert [list(row) for part in parts for row in part] == expected_rows()


@pytest.mark.parametrize("title", ["Before\0after", "\0", "Ends with\0"], ids=["inside", "alone", "at-the-end"])
def test_a_title_holding_the_cache_separator_comes_out_whole(app, users, title):
    """The look-up caches join a post's title and URL with NUL (and split them again per row)."""
    post = make_post(users["author"], "published", title=title, slug="the-post")
    make_comment(users["reader"], post, body="A comment.", status="approved")
    (row,) = [row for part in export_rows(CommentSelection(), "http://localhost/") for row in part]
    assert row[1:5] == (title, "http://localhost/en/posts/the-post", "reader", users["reader"].email)
    assert [list(row)] == expected_rows()


@pytest.fixture
def dated(users):
    """14 comments whose dates go back and forth against their ids, four of them at one same instant and two
    more within one second (the rows show seconds only), in all three statuses."""
    post = make_post(users["author"], "published", title="Dated")
    start = datetime(2026, 3, 1, 12, 0, 0)
    offsets = [5, 1, 9, 3, 3, 3, 3, 7, 0.25, 0.5, 11, 2, 8, 6]
    for n, offset in enumerate(offsets):
        comment = make_comment(
            users["reader"], post, body=f"dated {n}", status=("pending", "approved", "hidden")[n % 3]
        )
        comment.created_at = start + timedelta(seconds=offset)
    db.session.commit()


def ids_in(order: str, descending: bool, status: str | None = None) -> list[int]:
    """The comments' ids as the list orders them (its column, then the id the same way), read with ORDER BY."""
    column = getattr(Comment, order)
    keys = (column.desc(), Comment.id.desc()) if descending else (column.asc(), Comment.id.asc())
    query = sa.select(Comment.id).order_by(*keys)
    return list(fresh(query.where(Comment.status == status) if status else query).scalars())


@pytest.mark.parametrize("status", [None, "pending"], ids=["every-comment", "one-status"])
@pytest.mark.parametrize(
    ("column", "descending"),
    [("created_at", True), ("created_at", False), ("status", False), ("status", True)],
    ids=["newest-first", "oldest-first", "status", "status-reversed"],
)
@pytest.mark.parametrize("chunk", [3, 4, 100], ids=["chunk-3", "chunk-4", "one-chunk"])
def test_rows_come_in_the_lists_order_across_chunks_and_ties(app, dated, column, descending, status, chunk):
    order = RowOrder(column, descending)
    selection = CommentSelection(status=status)
    assert order_for(selection, order) == order
    parts = list(export_rows(selection, "http://localhost/", chunk=chunk, style=RowStyle(order=order)))
    ids = [row[0] for part in parts for row in part]
    assert ids == ids_in(column, descending, status)
    assert all(0 < len(part) <= chunk for part in parts)
    by_id = {row[0]: row for row in expected_rows(status)}
    assert [list(row) for part in parts for row in part] == [by_id[i] for i in ids]


@pytest.mark.parametrize(
    ("selection", "asked"),
    [
        (CommentSelection(search="dated"), RowOrder("created_at", True)),
        (CommentSelection(), RowOrder("body", True)),
        (CommentSelection(id_after=3), RowOrder("created_at", True)),
        (CommentSelection(), None),
    ],
    ids=["a-search", "a-column-no-index-walks", "a-slice-of-ids", "no-order-asked"],
)
def test_rows_fall_back_to_id_order_where_no_index_walks_the_lists(app, dated, selection, asked):
    assert order_for(selection, asked) == ID_ORDER


def test_statuses_read_as_the_queue_names_them_in_the_readers_language(app, dated):
    style = RowStyle(statuses=status_labels("es"))
    statuses = {
        row[0]: row[5] for part in export_rows(CommentSelection(), "http://localhost/", style=style) for row in part
    }
    codes = {row[0]: row[5] for row in expected_rows()}
    assert {(codes[i], statuses[i]) for i in codes} == {
        ("pending", "Pendiente"),
        ("approved", "Aprobado"),
        ("hidden", "Oculto"),
    }


def test_dates_as_serial_numbers_are_days_since_1899_12_30_to_the_second(app, dated):
    style = RowStyle(serial_dates=True)
    serials = [row[6] for part in export_rows(CommentSelection(), "http://localhost/", style=style) for row in part]
    dates = [datetime.fromisoformat(row[6].removesuffix("Z")) for row in expected_rows()]
    assert serials == [(date - datetime(1899, 12, 30)) / timedelta(days=1) for date in dates]


@pytest.mark.parametrize("fraction", [0, 0.0004, 0.4999, 0.5, 0.9996, 0.9999], ids=str)
def test_dates_are_cut_to_their_second_in_both_forms(app, users, fraction):
    """A date shows the second it is in, as text (csv) and as a serial number (xlsx) alike, never the next one:
    SQLite counts seconds from a time rounded to the millisecond, which showed …:36.9996 as :37 in an xlsx only."""
    post = make_post(users["author"], "published", title="Fractions")
    comment = make_comment(users["reader"], post, body="A comment.", status="approved")
    comment.created_at = datetime(2026, 11, 27, 22, 0, 36) + timedelta(seconds=fraction)
    db.session.commit()
    (stored,) = [datetime.fromisoformat(row[6].removesuffix("Z")) for row in expected_rows()]
    assert stored == datetime(2026, 11, 27, 22, 0, 36)
    ((text,),) = [[row[6] for row in part] for part in export_rows(CommentSelection(), "http://localhost/")]
    serial_style = RowStyle(serial_dates=True)
    ((serial,),) = [
        [row[6] for row in part] for part in export_rows(CommentSelection(), "http://localhost/", style=serial_style)
    ]
    assert text == "2026-11-27T22:00:36Z"
    assert serial == (stored - datetime(1899, 12, 30)) / timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1:A2)", "'+SUM(A1:A2)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\nReturn"),
        ("line\r\nbreak", "line\nbreak"),
        ("plain 中文", "plain 中文"),
        ("", ""),
        (None, ""),
    ],
)
def test_neutralise_makes_formulas_inert(text, cell):
    assert neutralise(text) == cell


def test_rows_read_on_while_the_caller_commits_and_another_thread_uses_the_pool(app, spread):
    """A job commits its progress between chunks while other threads of the worker (a heartbeat, the mail watch)
    run statements: the rows' cursor keeps a connection of its own, never one another thread can take (which
    read "Packet sequence number wrong" on MariaDB, or another thread's rows)."""
    stop, problems, statements = threading.Event(), [], [0]

    def another_thread() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    db.session.execute(sa.select(sa.func.count()).select_from(Comment)).scalar()
                    db.session.commit()
                    statements[0] += 1
                except Exception as exc:  # noqa: BLE001 (any failure is the finding)
                    problems.append(exc)
                    db.session.rollback()
            db.session.remove()

    thread = threading.Thread(target=another_thread, daemon=True)
    thread.start()
    read = []
    try:
        for rows in export_rows(CommentSelection(), "http://localhost", chunk=2):
            read.extend(row[0] for row in rows)
            db.session.execute(sa.select(sa.func.count()).select_from(Comment)).scalar()  # the job's progress
            db.session.commit()
    finally:
        stop.set()
        thread.join()
    assert not problems and statements[0] > 0
    assert read == sorted(fresh(sa.select(Comment.id)).scalars())


# -- csv text written by the database -------------------------------------------------------------------------
# Cells the csv module quotes (comma, double quote, line breaks), formula starts, their full-width look-alikes (which
# the comment's collation compares equal to the ASCII ones, but which the csv module leaves alone), Chinese and emoji.
TRICKY = ",\"\r\n=+-@\t' ，＂＝＋－＠中文é🎉x"
BODIES = st.text(alphabet=TRICKY, max_size=12)


def test_the_database_writes_the_csv_the_csv_module_writes(app, users):
    post = make_post(users["author"], "published", title='A "quoted", title\r\n=1', slug="the-post")
    users["reader"].username = "=reader,x"
    db.session.commit()
    labels = {"pending": "=Pend,ing", "approved": 'Ap"proved', "hidden": "Hid\r\nden"}
    style = RowStyle(statuses={code: neutralise(label) for code, label in labels.items()})

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(bodies=st.lists(BODIES, min_size=1, max_size=5))
    def check(bodies):
        db.session.execute(sa.delete(Comment))
        db.session.commit()
        for n, body in enumerate(bodies):
            make_comment(users["reader"], post, body=body, status=("pending", "approved", "hidden")[n % 3])
        expected = module_csv(export_rows(CommentSelection(), "http://localhost/", style=style))
        assert database_csv(CommentSelection(), "http://localhost/", style=style) == (expected, [len(bodies)])

    check()


def test_every_tricky_character_comes_out_as_the_csv_module_writes_it(app, users):
    """Each character alone and at the start, middle and end of a body, in one export: no example left to chance."""
    post = make_post(users["author"], "published", title="Story")
    bodies = [body for c in TRICKY for body in (c, c + "a", "a" + c + "b", "a" + c)] + ["", "\r\n", "a\r\n"]
    for body in bodies:
        make_comment(users["reader"], post, body=body, status="approved")
    text, sizes = database_csv(CommentSelection(), "http://localhost/", chunk=7)
    assert text == module_csv(export_rows(CommentSelection(), "http://localhost/"))
    assert sum(sizes) == len(bodies) and max(sizes) == 7
    read_back = [row[7] for row in csv.reader(io.StringIO(text, newline=""))]
    assert read_back == [neutralise(body) for body in bodies]


@pytest.mark.parametrize("order", [RowOrder("created_at", True), RowOrder("status")], ids=["newest-first", "status"])
def test_the_database_csv_follows_the_list_order(app, dated, order):
    style = RowStyle(order=order)
    expected = module_csv(export_rows(CommentSelection(), "http://localhost/", chunk=4, style=style))
    assert database_csv(CommentSelection(), "http://localhost/", chunk=4, style=style)[0] == expected


@pytest.mark.parametrize("cache_limit", [1, 3], ids=["limit-one", "limit-below-posts"])
def test_database_csv_rows_name_their_own_post_and_author_whatever_the_cache_limit(app, spread, cache_limit):
    text, _ = database_csv(CommentSelection(), "http://localhost/", chunk=4, cache_limit=cache_limit)
    assert [row[:5] for row in csv.reader(io.StringIO(text, newline=""))] == [
        [str(row[0]), *row[1:5]] for row in expected_rows()
    ]


@pytest.mark.parametrize("whole_after", [1, 10**6], ids=["whole-table", "by-ids"])
def test_a_base_url_the_csv_module_quotes_comes_out_as_it_writes_it_row_by_row(app, spread, monkeypatch, whole_after):
    """A csv's post entries are written by the database on either database, row by row too (one author's comments):
    the URL quoted as the csv module quotes it, never made inert, and braces or a percent sign in it are text."""
    monkeypatch.setattr("cms.exports.rows.WHOLE_TABLE_AFTER", whole_after)
    base = 'http://news.example/a,"b"/{c}/%d'
    selection = CommentSelection(author="reader")
    text, _ = database_csv(selection, base, chunk=4)
    assert text == module_csv(export_rows(selection, base))
    assert text.count('"http://news.example/a,""b""/{c}/%d/en/posts/') == 7  # the reader's 7 of the 42


# -- look-ups: a chunk at a time, then the whole table ------------------------------------------------------------
@pytest.mark.parametrize(
    ("asked", "limit", "whole"),
    [(3, 7, False), (4, 7, True), (4, 6, False)],
    ids=["one-below-threshold", "at-threshold", "table-one-past-limit"],
)
def test_a_lookup_reads_its_whole_table_from_the_threshold_when_the_table_fits(app, users, asked, limit, whole):
    """WHOLE_TABLE_AFTER at 4, seven posts: four read a chunk at a time bring in all seven, if seven fit."""
    posts = [make_post(users["author"], "published", title=f"Story {n}") for n in range(7)]
    everything = {post.id: post.title for post in posts}
    with Session(db.engine) as session:
        connection = session.connection()
        lookup = _Lookup(connection, limit, lambda _, title: title, Post.id, Post.title, whole_after=4)
        lookup.fill(connection.connection.driver_connection.cursor(), {post.id for post in posts[:asked]})
        assert dict(lookup) == (everything if whole else {post.id: post.title for post in posts[:asked]})


def test_a_post_made_after_the_whole_table_was_read_is_still_found(app, users):
    """SQLite reads each statement afresh: a comment on a post made after the whole read still names its post."""
    first = make_post(users["author"], "published", title="First")
    with Session(db.engine) as session:
        connection = session.connection()
        lookup = _Lookup(connection, 10, lambda _, title: title, Post.id, Post.title, whole_after=1)
        cursor = connection.connection.driver_connection.cursor()
        lookup.fill(cursor, {first.id})
        later_id = make_post(users["author"], "published", title="Later").id  # through the app's own session
        connection.connection.driver_connection.commit()  # MariaDB: see it, as SQLite's next statement does
        lookup.fill(cursor, {first.id, later_id})
        assert lookup == {first.id: "First", later_id: "Later"}


@pytest.mark.parametrize("whole_after", [1, 3, 10**6], ids=["at-once", "after-three", "never"])
def test_exports_name_every_post_and_author_whenever_the_whole_tables_are_read(app, spread, monkeypatch, whole_after):
    monkeypatch.setattr("cms.exports.rows.WHOLE_TABLE_AFTER", whole_after)
    assert [list(row) for part in export_rows(CommentSelection(), "http://localhost/", chunk=4) for row in part] == (
        expected_rows()
    )
    text, _ = database_csv(CommentSelection(), "http://localhost/", chunk=4)
    assert [row[:5] for row in csv.reader(io.StringIO(text, newline=""))] == [
        [str(row[0]), *row[1:5]] for row in expected_rows()
    ]


def test_an_export_during_which_a_post_is_deleted_finishes_without_its_comments(app, spread, monkeypatch):
    """A post deleted between reading a chunk of comments and looking up their posts: each statement reads what is
    committed when it starts (SQLite; MariaDB at READ COMMITTED), so the look-up no longer finds it. The chunk's
    comments on it are left out, as the later chunks no longer hold them, and the export finishes."""
    from cms.exports import rows as module

    real_chunks, before = module._comment_chunks, expected_rows()

    def a_post_goes_after_the_first_chunk(*args, **kwargs):
        for number, chunk in enumerate(real_chunks(*args, **kwargs)):
            if number == 1:
                post_id = chunk[0][1]
                db.session.execute(sa.delete(Comment).where(Comment.post_id == post_id))
                db.session.execute(sa.delete(Post).where(Post.id == post_id))
                db.session.commit()
            yield chunk

    monkeypatch.setattr(module, "_comment_chunks", a_post_goes_after_the_first_chunk)
    exported = [list(row) for part in export_rows(CommentSelection(), "http://localhost/", chunk=4) for row in part]
    after = expected_rows()
    assert len(after) == len(before) - 6  # the post's six comments went with it
    assert exported == before[:4] + [row for row in after if row[0] > before[3][0]]


def test_cells_written_in_many_threads_at_once_are_each_their_own():
    """csv_cells quotes in exports running beside each other (a worker's job thread, requests): no thread's cells
    come out in another's line."""
    from concurrent.futures import ThreadPoolExecutor

    from cms.exports.rows import csv_cells

    values = [(f'Title "{n}", part', f"https://x/en/posts/{n}") for n in range(3000)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        with ThreadPoolExecutor(8) as pool:
            written = list(pool.map(lambda pair: csv_cells(*pair), values))
    finally:
        sys.setswitchinterval(interval)
    assert written == [f'"Title ""{n}"", part",https://x/en/posts/{n}' for n in range(3000)]
