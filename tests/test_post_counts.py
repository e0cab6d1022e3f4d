"""The post list's per-status counts stay exact through every kind of change, and can be checked and repaired."""

import sqlalchemy as sa

from cms import post_counts
from cms.extensions import db
from cms.models import Post, PostStatus, PostStatusCount, User
from cms.posts import change_post_status
from tests.factories import make_post


def assert_exact():
    db.session.expire_all()
    assert post_counts.counts() == post_counts.true_counts()


def test_every_kind_of_change_keeps_the_counts_exact(app, users):
    drafts = [make_post(users["author"]) for _ in range(4)]
    make_post(users["editor"], status=PostStatus.PUBLISHED)
    assert post_counts.counts() == {"draft": 4, "review": 0, "published": 1, "archived": 0}
    assert_exact()

    drafts[0].status = PostStatus.REVIEW  # one post saved with a new status
    db.session.commit()
    assert post_counts.counts()["review"] == 1
    changed, _ = change_post_status(users["editor"], [db.session.get(Post, p.id) for p in drafts[1:3]], "published")
    assert changed == 2 and post_counts.counts() == {"draft": 1, "review": 1, "published": 3, "archived": 0}
    db.session.delete(db.session.get(Post, drafts[3].id))
    db.session.commit()
    assert post_counts.counts()["draft"] == 0
    assert_exact()


def test_posts_removed_with_their_author_are_uncounted(app, users):
    for status in ("draft", "draft", "review"):
        make_post(users["author"], status=status)
    make_post(users["editor"])
    db.session.delete(db.session.get(User, users["author"].id))  # ON DELETE CASCADE takes the author's posts
    db.session.commit()
    assert post_counts.counts() == {"draft": 1, "review": 0, "published": 0, "archived": 0}
    assert_exact()


def test_a_rolled_back_change_is_not_counted(app, users):
    post = make_post(users["author"])
    post.status = PostStatus.ARCHIVED
    db.session.flush()
    db.session.rollback()
    make_post(users["author"])  # the next flush carries no leftover of the rolled-back one
    assert post_counts.counts() == {"draft": 2, "review": 0, "published": 0, "archived": 0}
    assert_exact()


def test_check_counts_reports_and_repairs_the_post_counts(app, users):
    make_post(users["author"])
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["cms", "check-counts"])
    assert ok.exit_code == 0 and "The post counts are exact." in ok.output
    db.session.execute(sa.update(PostStatusCount).values(n=PostStatusCount.n + 3))
    db.session.commit()
    off = runner.invoke(args=["cms", "check-counts"])
    assert off.exit_code == 1
    assert "post draft: stored 4, actually 1" in off.output and "The post counts are off" in off.output
    assert "The comment counts are exact." in off.output
    fixed = runner.invoke(args=["cms", "check-counts", "--fix"])
    assert fixed.exit_code == 0 and "Rewrote the post counts." in fixed.output
    assert_exact()
