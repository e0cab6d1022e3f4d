"""Export files: the rows read back from xlsx and csv, unknown formats refused, and a large csv written by
two processes only when the caller says it may fork, from PARALLEL_MIN_ROWS rows on."""

import logging
import os

import pytest
import sqlalchemy as sa

from cms import comment_counts
from cms.comments import CommentSelection
from cms.exports import writers
from cms.exports.writers import ExportError, export_to_file
from cms.extensions import db
from cms.models import Comment
from tests.factories import make_post
from tests.support.exports import ENGLISH_HEADER, expected_rows, read_csv, read_xlsx

BULK = 308
two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the second process needs a second core")


@pytest.fixture
def bulk(users):
    """308 approved comments, one in seven starting with '=' (a formula, once not neutralised)."""
    post = make_post(users["author"], "published", title="中文标题 story")
    db.session.execute(
        sa.insert(Comment),
        [{"body": f"=bulk {n}" if n % 7 == 0 else f"bulk {n} 中文", "body_html": "", "status": "approved",
          "author_id": users["reader"].id, "post_id": post.id} for n in range(BULK)],
    )  # fmt: skip
    db.session.commit()
    comment_counts.recount()  # bulk inserts bypass the counting hooks, as the seed's do


def in_file(rows: list[list]) -> list[list]:
    """expected_rows as a csv holds them (every cell text), formulas neutralised."""
    return [[str(c) if i != 7 or not str(c).startswith("=") else "'" + c for i, c in enumerate(row)] for row in rows]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_file_holds_the_header_and_every_row(app, bulk, tmp_path, fmt):
    path = tmp_path / f"comments.{fmt}"
    written = export_to_file(CommentSelection(), fmt, path, "en", "http://localhost/")
    rows = (read_xlsx if fmt == "xlsx" else read_csv)(path.read_bytes())
    assert written == BULK and rows[0] == ENGLISH_HEADER
    expected = in_file(expected_rows())
    if fmt == "xlsx":
        expected = [[int(row[0]), *row[1:]] for row in expected]
    assert rows[1:] == expected


def test_unknown_format_is_refused(app, tmp_path):
    with pytest.raises(ExportError):
        export_to_file(CommentSelection(), "pdf", tmp_path / "comments.pdf", "en", "http://localhost/")
    assert not list(tmp_path.iterdir())


@two_cores
def test_csv_on_two_processes_is_the_same_file_as_on_one(app, bulk, tmp_path, monkeypatch, caplog):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    export_to_file(CommentSelection(), "csv", one, "en", "http://localhost/")
    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", 50)
    seen: list[int] = []
    with caplog.at_level(logging.INFO, logger="cms.exports"):
        written = export_to_file(CommentSelection(), "csv", two, "en", "http://localhost/", seen.append, parallel=True)
    assert "csv export on two processes" in caplog.text
    assert written == BULK and sum(seen) == BULK
    assert two.read_bytes() == one.read_bytes()
    assert not list(tmp_path.glob("*.part"))


@two_cores
@pytest.mark.parametrize(
    ("min_rows", "parallel", "processes"),
    [(BULK, True, 2), (BULK + 1, True, 1), (1, False, 1)],
    ids=["at-threshold", "one-below-threshold", "not-asked"],
)
def test_second_process_only_when_asked_and_from_the_threshold(
    app, bulk, tmp_path, monkeypatch, caplog, min_rows, parallel, processes
):
    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", min_rows)
    path = tmp_path / "comments.csv"
    with caplog.at_level(logging.INFO, logger="cms.exports"):
        written = export_to_file(CommentSelection(), "csv", path, "en", "http://localhost/", parallel=parallel)
    assert ("csv export on two processes" in caplog.text) == (processes == 2)
    assert written == BULK and read_csv(path.read_bytes())[1:] == in_file(expected_rows())
