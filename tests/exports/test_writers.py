"""Export files: the rows read back from xlsx and csv, unknown formats refused, and a large export run on two
processes (a csv written in two halves; an xlsx's rows read beside its writer) only when the caller says it may
fork, from PARALLEL_MIN_ROWS rows on."""

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
from tests.support.exports import ENGLISH_HEADER, expected_rows, in_xlsx, read_csv, read_xlsx

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
    expected = in_file(expected_rows(labelled=True))
    if fmt == "xlsx":
        expected = in_xlsx([[int(row[0]), *row[1:]] for row in expected])
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
    lowest, highest = db.session.execute(sa.select(sa.func.min(Comment.id), sa.func.max(Comment.id))).one()
    assert f"ids up to {(lowest + highest) // 2} in one" in caplog.text  # the middle of the ids, no OFFSET read
    assert written == BULK and sum(seen) == BULK
    assert two.read_bytes() == one.read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one.csv", "two.csv"]  # no part left


@two_cores
def test_xlsx_with_its_rows_read_in_a_second_process_holds_the_same_rows(app, bulk, tmp_path, monkeypatch, caplog):
    one, two = tmp_path / "one.xlsx", tmp_path / "two.xlsx"
    export_to_file(CommentSelection(), "xlsx", one, "en", "http://localhost/")
    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", 50)
    seen: list[int] = []
    with caplog.at_level(logging.INFO, logger="cms.exports"):
        written = export_to_file(CommentSelection(), "xlsx", two, "en", "http://localhost/", seen.append, parallel=True)
    assert "rows are read in a second process" in caplog.text
    assert written == BULK and sum(seen) == BULK
    assert read_xlsx(two.read_bytes()) == read_xlsx(one.read_bytes())


@two_cores
def test_an_xlsx_whose_reading_process_dies_fails_with_a_message(app, bulk, tmp_path, monkeypatch):
    def dies_after_one_chunk(*args, **kwargs):
        yield [(1, "t", "u", "a", "e", "Approved", 46023.0, "x")]
        os._exit(3)  # as a killed process would: no end message

    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", 50)
    monkeypatch.setattr(writers, "export_rows", dies_after_one_chunk)
    with pytest.raises(ExportError, match="reading process failed"):
        export_to_file(CommentSelection(), "xlsx", tmp_path / "c.xlsx", "en", "http://localhost/", parallel=True)


@two_cores
@pytest.mark.parametrize("dying", ["lower", "upper"])
def test_a_csv_whose_half_dies_fails_with_a_message_and_leaves_no_part_or_file(app, bulk, tmp_path, monkeypatch, dying):
    real_rows = writers.csv_text

    def one_half_dies(selection, *args, **kwargs):
        if (selection.id_after is not None) == (dying == "upper"):
            os._exit(3)  # as a killed process would
        yield from real_rows(selection, *args, **kwargs)

    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", 50)
    monkeypatch.setattr(writers, "csv_text", one_half_dies)
    with pytest.raises(ExportError, match="^One of the two export processes failed; see the log.$"):
        export_to_file(CommentSelection(), "csv", tmp_path / "c.csv", "en", "http://localhost/", parallel=True)
    assert not list(tmp_path.iterdir())


MESSAGES = {"csv": "csv export on two processes", "xlsx": "rows are read in a second process"}


@two_cores
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("min_rows", "parallel", "processes"),
    [(BULK, True, 2), (BULK + 1, True, 1), (1, False, 1)],
    ids=["at-threshold", "one-below-threshold", "not-asked"],
)
def test_second_process_only_when_asked_and_from_the_threshold(
    app, bulk, tmp_path, monkeypatch, caplog, min_rows, parallel, processes, fmt
):
    monkeypatch.setattr(writers, "PARALLEL_MIN_ROWS", min_rows)
    path = tmp_path / f"comments.{fmt}"
    with caplog.at_level(logging.INFO, logger="cms.exports"):
        written = export_to_file(CommentSelection(), fmt, path, "en", "http://localhost/", parallel=parallel)
    assert (MESSAGES[fmt] in caplog.text) == (processes == 2)
    assert written == BULK
    expected = in_file(expected_rows(labelled=True))
    if fmt == "csv":
        assert read_csv(path.read_bytes())[1:] == expected
    else:
        assert read_xlsx(path.read_bytes())[1:] == in_xlsx([[int(r[0]), *r[1:]] for r in expected])
