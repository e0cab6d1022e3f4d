"""`flask cms export-comments --order`: the rows of a file written from the shell in the comment list's orders,
and a search, which no index walks in those orders, in id order with a line that says so."""

import csv
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Comment
from tests.factories import make_comment, make_post
from tests.support.database import fresh


@pytest.fixture
def dated(users):
    """Eight comments whose dates go back and forth against their ids, two at one same instant, in all statuses."""
    post = make_post(users["author"], "published", title="Dated")
    start = datetime(2026, 3, 1, 12, 0, 0)
    for n, offset in enumerate([5, 1, 9, 3, 3, 7, 0, 2]):
        comment = make_comment(
            users["reader"], post, body=f"dated {n}", status=("pending", "approved", "hidden")[n % 3]
        )
        comment.created_at = start + timedelta(minutes=offset)
    db.session.commit()


def listed(column: str, descending: bool) -> list[int]:
    """The ids as the comment list orders them: its column, then the id the same way."""
    keys = (getattr(Comment, column), Comment.id)
    return list(fresh(sa.select(Comment.id).order_by(*(k.desc() if descending else k.asc() for k in keys))).scalars())


def exported(app, tmp_path, *options) -> tuple[list[int], str]:
    """The ids in the csv that `flask cms export-comments` writes with `options`, and what it printed."""
    path = tmp_path / "comments.csv"
    result = app.test_cli_runner().invoke(args=["cms", "export-comments", str(path), *options])
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return [int(row[0]) for row in rows], result.output


@pytest.mark.parametrize(
    ("order", "column", "descending"),
    [("-created_at", "created_at", True), ("created_at", "created_at", False), ("status", "status", False),
     ("-status", "status", True), ("id", "id", False)],
)  # fmt: skip
def test_the_cli_writes_the_rows_in_the_order_asked(app, dated, tmp_path, order, column, descending):
    ids, output = exported(app, tmp_path, "--order", order)
    assert ids == listed(column, descending)
    assert "id order" not in output


def test_without_an_order_the_rows_come_in_id_order(app, dated, tmp_path):
    ids, _ = exported(app, tmp_path)
    assert ids == listed("id", False)


def test_a_searched_export_says_it_keeps_to_id_order(app, dated, tmp_path):
    ids, output = exported(app, tmp_path, "--search", "dated", "--order", "-created_at")
    assert "A search is exported in id order, not by -created_at." in output
    assert ids == listed("id", False)


def test_an_order_the_list_does_not_offer_is_refused(app, dated, tmp_path):
    path = tmp_path / "comments.csv"
    result = app.test_cli_runner().invoke(args=["cms", "export-comments", str(path), "--order", "body"])
    assert result.exit_code == 2
    assert "Invalid value for '--order'" in result.output and "'-created_at'" in result.output
    assert not path.exists()
