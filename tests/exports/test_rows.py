"""The rows of an export: every comment of the selection with its own post and author, however small the
look-up caches, and text that would start a formula made inert."""

import pytest

from cms.comments import CommentSelection
from cms.exports.rows import CHUNK, LOOKUP_LIMIT, export_in_memory, export_rows, neutralise
from tests.factories import make_comment, make_post
from tests.support.exports import ENGLISH_HEADER, expected_rows


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


def test_in_memory_export_is_the_header_and_the_rows(app, spread):
    rows = export_in_memory(CommentSelection(status="approved"), "en", "http://localhost")
    assert rows[0] == ENGLISH_HEADER
    assert rows[1:] == expected_rows("approved")


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
