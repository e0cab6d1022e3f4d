"""A csv export of every comment on MariaDB reads many comments to a result row (`_GroupedRead`): the file is the
one the csv module writes however the spans are cut, halved or read row by row, and each limit holds at its
boundary."""

import csv
import io
from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from cms.comments import CommentSelection
from cms.exports import rows as module
from cms.exports.rows import ID_ORDER, RowOrder, RowStyle, _GroupedRead, export_rows, grouped_reads
from cms.extensions import db
from cms.models import Comment, Post
from tests.factories import make_comment, make_post
from tests.support.database import backend_of
from tests.support.exports import database_csv, module_csv

BASE = "http://localhost/"


def oracle(selection: CommentSelection, base: str = BASE) -> str:
    """What the csv module writes for `export_rows`' rows (read one by one)."""
    return module_csv(export_rows(selection, base))


@pytest.fixture
def mariadb(app):
    if backend_of(app) != "mariadb":
        pytest.skip("grouped reads are for PyMySQL, which decodes every row of a result in Python")


@pytest.fixture
def reads(monkeypatch):
    """The spans (lo, hi) each grouped read asked for, in order."""
    asked: list[tuple[int, int]] = []
    real = _GroupedRead.read

    def read(self, lo, hi):
        asked.append((lo, hi))
        return real(self, lo, hi)

    monkeypatch.setattr(_GroupedRead, "read", read)
    return asked


@pytest.fixture
def comments(users):
    """24 comments on 3 posts by 2 authors, every third one hidden; bodies of equal length."""
    posts = [make_post(users["author"], "published", title=f"Story {n}") for n in range(3)]
    authors = [users["reader"], users["moderator"]]
    for n in range(24):
        status = "hidden" if n % 3 == 2 else "approved"
        make_comment(authors[n % 2], posts[n % 3], body=f"comment number {n:03d}", status=status)


def test_grouped_reads_serve_every_comment_a_status_or_a_slice_in_id_order_on_pymysql(app):
    with Session(db.engine) as session:
        connection = session.connection()
        on_pymysql = connection.dialect.driver == "pymysql"
        for selection in (CommentSelection(), CommentSelection(status="hidden"), CommentSelection(id_after=5)):
            assert grouped_reads(selection, RowStyle(), connection) is on_pymysql
        narrowed = [
            CommentSelection(post_id=1),
            CommentSelection(post_title="x"),
            CommentSelection(author="alice"),
            CommentSelection(search="word"),
            CommentSelection(created_before=datetime(2030, 1, 1)),
        ]
        for selection in narrowed:
            assert grouped_reads(selection, RowStyle(), connection) is False
        assert grouped_reads(CommentSelection(), RowStyle(order=RowOrder("created_at", True)), connection) is False
        assert grouped_reads(CommentSelection(), RowStyle(order=ID_ORDER), connection) is on_pymysql


def test_the_file_is_the_csv_modules_and_each_read_holds_about_a_chunk(mariadb, comments, reads):
    # cache_limit 2: the look-ups read by ids (three posts, more authors), so every grouped read is the comments'.
    text, sizes = database_csv(CommentSelection(), BASE, chunk=5, cache_limit=2)
    assert text == oracle(CommentSelection())
    assert sizes == [5, 5, 5, 5, 4]
    assert [hi - lo for lo, hi in reads] == [5, 5, 5, 5, 4]


def test_the_group_limit_keeps_a_text_more_than_4_bytes_below_it_and_halves_the_span_at_4(
    mariadb, comments, monkeypatch, reads
):
    """GROUP_BYTES: a read's text is kept when it is more than 4 bytes below the limit (the server cuts between
    characters, within 4 bytes of it); otherwise the span is read in halves."""
    first, top = db.session.execute(sa.select(sa.func.min(Comment.id), sa.func.max(Comment.id))).one()
    expected = [f"{first + n},comment number {n:03d}" for n in range(24)]
    length = len("\0".join(expected).encode())
    for limit, spans in (
        (length + 5, [(first - 1, top)]),
        (length + 4, [(first - 1, top), (first - 1, first + 11), (first + 11, top)]),
    ):
        monkeypatch.setattr(module, "GROUP_BYTES", limit)
        reads.clear()
        with (
            Session(db.engine) as session,
            _GroupedRead(session.connection(), Comment.id, [Comment.body], [], 4) as reader,
        ):
            assert sorted(reader.read(first - 1, top), key=lambda part: int(part.split(",")[0])) == expected
        assert reads == spans, limit


def test_a_span_of_rows_at_once_ids_is_read_row_by_row_and_one_more_is_halved(mariadb, comments, monkeypatch, reads):
    monkeypatch.setattr(module, "GROUP_BYTES", 64)  # no read of more than a comment or two fits
    first = db.session.scalar(sa.select(sa.func.min(Comment.id)))
    expected = [f"{first + n},comment number {n:03d}" for n in range(5)]
    with Session(db.engine) as session, _GroupedRead(session.connection(), Comment.id, [Comment.body], [], 4) as reader:
        assert reader.read(first - 1, first + 3) == expected[:4]
        assert reads == [(first - 1, first + 3)]
        reads.clear()
        assert reader.read(first - 1, first + 4) == expected
        assert reads == [(first - 1, first + 4), (first - 1, first + 1), (first + 1, first + 4)]


def test_long_comments_past_a_tiny_group_limit_come_out_whole(mariadb, comments, monkeypatch):
    monkeypatch.setattr(module, "GROUP_BYTES", 64)
    text, sizes = database_csv(CommentSelection(), BASE, chunk=8)
    assert text == oracle(CommentSelection())
    assert sum(sizes) == 24


def test_a_nul_in_a_body_or_a_title_reads_its_span_row_by_row(mariadb, users):
    post = make_post(users["author"], "published", title="Nul\0title")
    bodies = ["before", "a\0b", "\0", "after,\0\r\nend", "last"]
    for body in bodies:
        make_comment(users["reader"], post, body=body, status="approved")
    text, sizes = database_csv(CommentSelection(), BASE, chunk=5)
    assert text == oracle(CommentSelection())
    assert [row[7] for row in csv.reader(io.StringIO(text, newline=""))] == [
        "before",
        "a\0b",
        "\0",
        "after,\0\nend",
        "last",
    ]
    assert sizes == [5]


def test_a_sparse_selection_grows_its_spans_to_span_growth_chunks(mariadb, users, monkeypatch, reads):
    """SPAN_GROWTH at 3 with chunks of 2: a status held by one comment in twelve grows its spans to 6 ids and no more."""
    monkeypatch.setattr(module, "SPAN_GROWTH", 3)
    post = make_post(users["author"], "published", title="Story")
    for n in range(60):
        make_comment(users["reader"], post, body=f"comment {n}", status="hidden" if n % 12 == 0 else "approved")
    hidden = CommentSelection(status="hidden")
    text, sizes = database_csv(
        hidden, BASE, chunk=2, cache_limit=0
    )  # look-ups by ids: every grouped read is a span here
    assert text == oracle(hidden)
    assert sum(sizes) == 5
    spans = [hi - lo for lo, hi in reads]
    assert spans[0] == 2 and max(spans) == 6


def test_an_export_puts_back_the_sessions_group_concat_limit(mariadb, comments):
    db.session.execute(sa.text("SET SESSION group_concat_max_len = 12345"))  # whatever the pooled connection had
    text, _ = database_csv(CommentSelection(), BASE, session=db.session)
    assert text == oracle(CommentSelection())
    assert db.session.scalar(sa.text("SELECT @@SESSION.group_concat_max_len")) == 12345


def test_a_slice_of_the_ids_is_read_grouped_and_whole(mariadb, comments, reads):
    first = db.session.scalar(sa.select(sa.func.min(Comment.id)))
    lower = CommentSelection(id_through=first + 9)
    upper = replace(lower, id_through=None, id_after=first + 9)
    assert database_csv(lower, BASE, cache_limit=2)[0] + database_csv(upper, BASE, cache_limit=2)[0] == oracle(
        CommentSelection()
    )
    assert reads and all(first - 1 <= lo < hi for lo, hi in reads)


def test_the_whole_post_table_read_grouped_names_every_post(mariadb, comments, monkeypatch):
    monkeypatch.setattr(module, "WHOLE_TABLE_AFTER", 1)
    assert database_csv(CommentSelection(), BASE, chunk=4)[0] == oracle(CommentSelection())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == 3


def test_rows_the_server_hands_over_in_another_order_are_written_in_id_order(mariadb, comments, monkeypatch):
    """GROUP_CONCAT without ORDER BY joins the rows in the order the server reads them, which is the id's for the
    plans these reads get; were it another, the file would still be in id order."""
    real = _GroupedRead.spans

    def reversed_spans(self, lo, top, rows):
        for parts in real(self, lo, top, rows):
            yield parts[::-1]

    monkeypatch.setattr(_GroupedRead, "spans", reversed_spans)
    text, sizes = database_csv(CommentSelection(), BASE, chunk=5)
    assert text == oracle(CommentSelection())
    assert sizes == [5, 5, 5, 5, 4]


@pytest.mark.parametrize("whole_after", [1, 10**6], ids=["whole-table", "by-ids"])
def test_a_base_url_the_csv_module_quotes_comes_out_as_it_writes_it(mariadb, comments, monkeypatch, whole_after):
    """The post's URL is built by the database from the base URL: quoted as the csv module quotes it, never made
    inert, and braces or a percent sign in it are text."""
    monkeypatch.setattr(module, "WHOLE_TABLE_AFTER", whole_after)
    base = 'http://news.example/a,"b"/{c}/%d'
    text, _ = database_csv(CommentSelection(), base, chunk=5)
    assert text == oracle(CommentSelection(), base)
    assert '"http://news.example/a,""b""/{c}/%d/en/posts/' in text


@pytest.mark.parametrize(("cache_limit", "whole"), [(3, True), (2, False)], ids=["table-fits", "one-past-limit"])
def test_a_grouped_exports_look_ups_read_their_whole_table_at_the_first_chunk(
    mariadb, comments, monkeypatch, cache_limit, whole
):
    """Three posts: with room for three, the posts' look-up reads its whole table before any post by id; with
    room for two it reads by ids, emptied as it fills. The file is the csv module's either way."""
    held_before_whole: list[int] = []
    real = module._Lookup._fill_whole

    def fill_whole(self, cursor):
        held_before_whole.append(len(self))
        return real(self, cursor)

    monkeypatch.setattr(module._Lookup, "_fill_whole", fill_whole)
    text, _ = database_csv(CommentSelection(), BASE, chunk=2, cache_limit=cache_limit)
    assert text == oracle(CommentSelection())
    assert held_before_whole == [0, 0]  # posts, then authors: tried once, at the first chunk, before any read by id
    with Session(db.engine) as session:
        connection = session.connection()
        posts, _authors = module._csv_lookups(connection, cache_limit, "http://localhost", grouped=True)
        posts.fill(
            connection.connection.driver_connection.cursor(), {db.session.scalar(sa.select(sa.func.min(Post.id)))}
        )
        assert len(posts) == (3 if whole else 1)
