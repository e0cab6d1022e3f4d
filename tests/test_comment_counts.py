"""The moderation queue's per-status counts stay exact through every kind of change, and can be checked."""

import sqlalchemy as sa

from cms import comment_counts
from cms.comments import add_comment, delete_comments, id_batches, moderate
from cms.extensions import db
from cms.models import Comment, CommentStatus, CommentStatusCount, Post, PostStatus, User
from tests.factories import make_comment, make_post


def assert_exact():
    db.session.expire_all()
    assert comment_counts.counts() == comment_counts.true_counts()


def test_every_kind_of_change_keeps_the_counts_exact(app, users):
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    comments = [make_comment(users["reader"], post) for _ in range(5)]
    add_comment(users["reader"], post, "Through the public form")
    assert sum(comment_counts.counts().values()) == 6
    assert_exact()

    comments[0].status, comments[0].hidden_reason = CommentStatus.HIDDEN, "spam"  # a moderator's single edit
    db.session.commit()
    assert_exact()
    moderate(id_batches([c.id for c in comments[:3]]), CommentStatus.APPROVED)  # bulk, one already hidden
    assert_exact()
    delete_comments(id_batches([comments[3].id]))
    assert_exact()
    db.session.delete(db.session.get(Comment, comments[4].id))
    db.session.commit()
    assert sum(comment_counts.counts().values()) == 4
    assert_exact()


def test_comments_removed_with_their_post_or_author_are_uncounted(app, users):
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    other = make_post(users["editor"], status=PostStatus.PUBLISHED)
    for _ in range(3):
        make_comment(users["reader"], post, status=CommentStatus.APPROVED)
    make_comment(users["moderator"], other)
    make_comment(users["moderator"], post)
    db.session.delete(db.session.get(Post, post.id))  # ON DELETE CASCADE takes its comments
    db.session.commit()
    assert comment_counts.counts() == {"pending": 1, "approved": 0, "hidden": 0}
    db.session.delete(db.session.get(User, users["moderator"].id))
    db.session.commit()
    assert comment_counts.counts() == {"pending": 0, "approved": 0, "hidden": 0}
    assert_exact()


def test_check_counts_reports_and_repairs(app, users):
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    make_comment(users["reader"], post)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["cms", "check-counts"])
    assert ok.exit_code == 0 and "exact" in ok.output
    db.session.execute(sa.update(CommentStatusCount).values(n=CommentStatusCount.n + 7))
    db.session.commit()
    off = runner.invoke(args=["cms", "check-counts"])
    assert off.exit_code == 1 and "pending: stored 8, actually 1" in off.output
    fixed = runner.invoke(args=["cms", "check-counts", "--fix"])
    assert fixed.exit_code == 0 and "Rewrote" in fixed.output
    assert_exact()


def test_a_selections_size_comes_from_the_counters_when_they_know_it(app, users):
    """No filter or a status alone: the counters' figure (an export's size, its split), with no comment read; any
    other filter: the comments counted. Bulk inserts bypass the counting hooks, which shows which was read."""
    from cms.comments import CommentSelection, count_selected, selection_size

    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    for status in ("pending", "pending", "approved"):
        make_comment(users["reader"], post, status=status)
    for selection in (CommentSelection(), CommentSelection(status="pending"), CommentSelection(post_id=post.id)):
        assert selection_size(selection) == count_selected(selection)
    db.session.execute(
        sa.insert(Comment), [{"body": "bulk", "body_html": "", "status": "pending", "author_id": users["reader"].id,
                              "post_id": post.id}],
    )  # fmt: skip
    db.session.commit()
    assert selection_size(CommentSelection()) == 3 and selection_size(CommentSelection(status="pending")) == 2
    assert selection_size(CommentSelection(post_id=post.id)) == 4
    assert selection_size(CommentSelection(status="pending", search="bulk")) == 1
