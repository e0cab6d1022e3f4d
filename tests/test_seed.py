"""cms/seed.py: the bulk data set the benchmarks measure, on a small scale."""

from collections import Counter
from datetime import datetime

import click
import sqlalchemy as sa
from click.testing import CliRunner

from cms.accounts import ensure_default_roles
from cms.models import Comment, Follow, Post, PostStatus, PostTranslation, User
from cms.posts import translation_state
from cms.seed import demo_accounts, progress_bars, seed_bulk, seed_showcase
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


def test_the_showcase_translates_posts_schedules_others_and_dates_comments_after_their_post(app):
    demo_accounts()
    seed_bulk(users=10, posts=12, comments=40, follows=5, now=NOW)
    seed_showcase(now=NOW)
    translated = fresh(sa.select(PostTranslation.locale, Post.locale).join(Post)).all()
    assert Counter(locale for locale, _ in translated) == {"zh": 3, "es": 3, "en": 1}
    assert all(locale != original for locale, original in translated)
    chinese = fresh(sa.select(Post).where(Post.locale == "zh")).scalar_one()
    assert chinese.title == "编辑部的第一周" and chinese.slug  # a usable slug from a Chinese title
    scheduled = fresh(sa.select(Post.published_at).where(Post.status == PostStatus.PUBLISHED, Post.published_at > NOW))
    assert len(scheduled.all()) == 2
    rows = fresh(sa.select(Comment.created_at, Post.published_at).join(Post, Post.id == Comment.post_id)).all()
    assert len(rows) == 42
    assert all(published_at is not None and published_at <= commented for commented, published_at in rows)
    with app.test_request_context():
        states = [translation_state(post, ["en", "zh", "es"]) for post in fresh(sa.select(Post)).scalars()]
    assert sum(state == {"en": "original", "zh": "current", "es": "current"} for state in states) == 2
    # One translation was reviewed against an earlier text of its original, so the workspace has a diff to show.
    assert sum(state == {"en": "original", "zh": "current", "es": "outdated"} for state in states) == 1
    assert sum(state == {"zh": "original", "en": "current", "es": "missing"} for state in states) == 1
