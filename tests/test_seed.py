"""cms/seed.py: the bulk data set the benchmarks measure, on a small scale."""

from collections import Counter
from datetime import datetime

import click
import sqlalchemy as sa
from click.testing import CliRunner

from cms.accounts import ensure_default_roles
from cms.models import Comment, Follow, Post, PostStatus, User
from cms.seed import progress_bars, seed_bulk
from tests.support.database import empty_tables, fresh

NOW = datetime(2026, 3, 1, 12, 0, 0)


def snapshot() -> dict:
    """Everything the seed draws at random, in insertion order."""
    return {
        "users": fresh(sa.select(User.id, User.name, User.fs_uniquifier, User.member_since).order_by(User.id)).all(),
        "posts": fresh(
            sa.select(Post.id, Post.title, Post.status, Post.author_id, Post.created_at, Post.published_at).order_by(
                Post.id
            )
        ).all(),
        "comments": fresh(
            sa.select(Comment.body, Comment.status, Comment.author_id, Comment.post_id, Comment.created_at).order_by(
                Comment.id
            )
        ).all(),
        "follows": sorted(fresh(sa.select(Follow.follower_id, Follow.followed_id)).all()),
    }


def test_seeded_comments_are_never_dated_before_their_post_goes_live(app):
    seed_bulk(users=40, posts=60, comments=600, follows=30, now=NOW)
    rows = fresh(
        sa.select(Comment.created_at, Post.status, Post.published_at, Post.created_at).join(
            Post, Post.id == Comment.post_id
        )
    ).all()
    assert len(rows) == 600
    for commented, status, published_at, created_at in rows:
        assert status == PostStatus.PUBLISHED
        assert published_at is not None and created_at <= published_at <= commented <= NOW


def test_seed_with_the_same_seed_writes_the_same_rows(app):
    seed_bulk(users=30, posts=40, comments=200, follows=25, seed=7, now=NOW)
    first = snapshot()
    empty_tables()
    ensure_default_roles()
    seed_bulk(users=30, posts=40, comments=200, follows=25, seed=7, now=NOW)
    assert snapshot() == first
    empty_tables()
    ensure_default_roles()
    seed_bulk(users=30, posts=40, comments=200, follows=25, seed=8, now=NOW)
    assert snapshot()["comments"] != first["comments"]


def test_seed_writes_distinct_follows_and_keeps_the_status_mix(app):
    seed_bulk(users=100, posts=200, comments=2_000, follows=300, now=NOW)
    follows = fresh(sa.select(Follow.follower_id, Follow.followed_id)).all()
    assert len(follows) == len(set(follows)) == 300
    statuses = Counter(fresh(sa.select(Comment.status)).scalars())
    assert 0.80 < statuses["approved"] / 2_000 < 0.90
    assert 0.06 < statuses["pending"] / 2_000 < 0.14
    assert 0.02 < statuses["hidden"] / 2_000 < 0.08


def test_progress_bars_show_one_bar_per_table(app):
    totals = {"users": 20, "posts": 30, "comments": 100, "follows": 10}
    reported: Counter = Counter()

    @click.command()
    def seed():
        with progress_bars(totals) as bar:
            seed_bulk(**totals, progress=lambda what, rows: (reported.update({what: rows}), bar(what, rows)), now=NOW)

    result = CliRunner().invoke(seed)
    assert result.exit_code == 0, result.output
    assert reported == totals
    for table in totals:
        assert f"Seeding {table}" in result.output
