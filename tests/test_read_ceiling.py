"""The ceiling on the rows a statement examines (cms/read_ceiling.py): MariaDB stops a statement past it and the
block says so; SQLite has no such clause and reads on."""

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Post, PostStatus
from cms.read_ceiling import rows_examined_at_most, with_ceiling
from tests.factories import make_post
from tests.support.database import backend_of


@pytest.mark.parametrize(
    ("statement", "bounded"),
    [
        ("SELECT id FROM post", "SELECT id FROM post LIMIT ROWS EXAMINED 9"),
        ("SELECT id FROM post LIMIT %(param_1)s", "SELECT id FROM post LIMIT %(param_1)s ROWS EXAMINED 9"),
        ("SELECT id FROM post LIMIT %s, %s", "SELECT id FROM post LIMIT %s, %s ROWS EXAMINED 9"),
        # A subquery's LIMIT is not the statement's.
        (
            "SELECT count(*) FROM (SELECT id FROM post LIMIT %(param_1)s) AS anon_1",
            "SELECT count(*) FROM (SELECT id FROM post LIMIT %(param_1)s) AS anon_1 LIMIT ROWS EXAMINED 9",
        ),
        ("select id from post;", "select id from post LIMIT ROWS EXAMINED 9"),
        # What takes no such clause is left as it is: writes, and reads that lock rows.
        ("UPDATE post SET title = %(title)s", "UPDATE post SET title = %(title)s"),
        ("SELECT id FROM post WHERE id = %(id)s FOR UPDATE", "SELECT id FROM post WHERE id = %(id)s FOR UPDATE"),
        ("SELECT id FROM post LOCK IN SHARE MODE", "SELECT id FROM post LOCK IN SHARE MODE"),
    ],
)
def test_a_select_takes_the_ceiling_after_its_own_limit_or_with_a_limit_of_its_own(statement, bounded):
    assert with_ceiling(statement, 9) == bounded


@pytest.fixture
def five_posts(users):
    return [make_post(users["author"], PostStatus.DRAFT, title=f"Ceiling {n}") for n in range(5)]


def scan_every_post() -> list:
    """Every post's id by a condition no index serves, so the statement reads the whole table."""
    return db.session.scalars(sa.select(Post.id).where(Post.title.contains("Ceiling"))).all()


def test_a_statement_reading_past_the_ceiling_stops_on_mariadb_and_the_block_says_so(app, five_posts):
    """A scan of 5 rows examines 6 (MariaDB counts the read that finds the end): read whole within a ceiling of 6,
    stopped at 5. SQLite has no ceiling: the same block reads every row and says nothing."""
    with rows_examined_at_most(6) as ceiling:
        assert len(scan_every_post()) == 5
    assert not ceiling.exceeded
    with rows_examined_at_most(5) as ceiling:
        found = scan_every_post()
    if backend_of(app) == "mariadb":
        assert ceiling.exceeded and len(found) <= 5
    else:
        assert not ceiling.exceeded and len(found) == 5


def test_no_ceiling_or_an_inner_block_without_one_reads_every_row(app, five_posts):
    with rows_examined_at_most(None) as ceiling:
        assert len(scan_every_post()) == 5
    assert not ceiling.exceeded
    with rows_examined_at_most(1) as outer:
        with rows_examined_at_most(0) as inner:
            assert len(scan_every_post()) == 5
    assert not inner.exceeded and not outer.exceeded
    assert len(scan_every_post()) == 5  # outside any block


def test_a_sort_stopped_at_the_ceiling_ends_the_block_and_the_block_says_so(app, five_posts):
    """MariaDB stops a sort (an order no index holds) at the ceiling with an error, not a warning: the block ends
    there, marked exceeded, and the statements after it in the block do not run."""
    sorted_ids = sa.select(Post.id).order_by(sa.func.lower(Post.title)).limit(3)
    after: list = []
    with rows_examined_at_most(2) as ceiling:
        db.session.scalars(sorted_ids).all()
        after.append("ran")
    if backend_of(app) == "mariadb":
        assert ceiling.exceeded and after == []
    else:
        assert not ceiling.exceeded and after == ["ran"]
    assert len(db.session.scalars(sorted_ids).all()) == 3  # the session goes on


def test_other_database_errors_in_the_block_are_raised(app, five_posts):
    with pytest.raises(sa.exc.DBAPIError), rows_examined_at_most(2):
        db.session.execute(sa.text("SELECT no_such_column FROM post"))
    db.session.rollback()
