"""The moderation queue's per-status counts and the chart's per-day counts stay exact through every kind of change,
and can be checked."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms import comment_counts
from cms.comments import add_comment, delete_comments, id_batches, moderate
from cms.dashboard import comments_per_day
from cms.extensions import db
from cms.models import Comment, CommentDayCount, CommentStatus, CommentStatusCount, Post, PostStatus, User, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import backend_of, fresh, run_together


def assert_exact():
    db.session.expire_all()
    assert comment_counts.counts() == comment_counts.true_counts()
    assert comment_counts.COMMENT_DAYS.mismatches() == {}


def stored_days() -> dict[date, int]:
    """The stored counts per day, days without comments left out."""
    db.session.expire_all()
    return {day: n for day, n in comment_counts.COMMENT_DAYS.stored_counts().items() if n}


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


LAST_MOMENT = datetime(2024, 5, 19, 23, 59, 59, 999999)  # of 19 May (UTC)


def test_every_kind_of_change_keeps_the_counts_per_day_exact(app, users):
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    with time_machine.travel(LAST_MOMENT.replace(tzinfo=UTC), tick=False):
        late = make_comment(users["reader"], post, body="the day's last moment")  # no time given: now
        add_comment(users["reader"], post, "Through the public form")
    with time_machine.travel((LAST_MOMENT + timedelta(microseconds=1)).replace(tzinfo=UTC), tick=False):
        early = make_comment(users["reader"], post, body="the next day's first")
        gone = make_comment(users["reader"], post)
        deleted = make_comment(users["reader"], post)
    assert stored_days() == {date(2024, 5, 19): 2, date(2024, 5, 20): 3}
    assert_exact()

    late.created_at = LAST_MOMENT + timedelta(days=3)  # moved to another day
    db.session.commit()
    assert stored_days() == {date(2024, 5, 19): 1, date(2024, 5, 20): 3, date(2024, 5, 22): 1}
    moderate(id_batches([early.id, gone.id]), CommentStatus.HIDDEN, reason="spam")  # statuses: the day's count stays
    delete_comments(id_batches([gone.id]))
    db.session.delete(db.session.get(Comment, deleted.id))
    db.session.commit()
    assert stored_days() == {date(2024, 5, 19): 1, date(2024, 5, 20): 1, date(2024, 5, 22): 1}
    assert_exact()

    db.session.delete(db.session.get(Post, post.id))  # ON DELETE CASCADE takes the rest
    db.session.commit()
    assert stored_days() == {}
    assert_exact()


def test_the_chart_reads_the_counts_per_day_not_the_comments(app, users):
    """A bulk insert bypasses the counting hooks: the chart does not see it until the counts are rebuilt (as the seed
    and `flask cms check-counts --fix` do)."""
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    make_comment(users["reader"], post)
    db.session.execute(
        sa.insert(Comment), [{"body": "bulk", "body_html": "", "status": "approved", "author_id": users["reader"].id,
                              "post_id": post.id, "created_at": datetime.now(UTC).replace(tzinfo=None)}],
    )  # fmt: skip
    db.session.commit()
    assert comments_per_day(days=1)[0][1] == 1
    comment_counts.COMMENT_DAYS.recount()
    assert comments_per_day(days=1)[0][1] == 2


def test_check_counts_reports_and_repairs_the_counts_per_day(app, users):
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    comment = make_comment(users["reader"], post)
    day = comment.created_at.date()
    db.session.execute(sa.update(CommentDayCount).values(n=CommentDayCount.n + 7))
    db.session.add(CommentDayCount(day=day - timedelta(days=400), n=2))  # a day without comments
    db.session.commit()
    runner = app.test_cli_runner()
    off = runner.invoke(args=["cms", "check-counts"])
    assert off.exit_code == 1
    assert f"comments per day {day.isoformat()}: stored 8, actually 1" in off.output
    assert f"comments per day {(day - timedelta(days=400)).isoformat()}: stored 2, actually 0" in off.output
    assert "The comment counts are exact." in off.output
    fixed = runner.invoke(args=["cms", "check-counts", "--fix"])
    assert fixed.exit_code == 0 and "Rewrote the comments per day counts." in fixed.output
    assert stored_days() == {day: 1}
    assert_exact()


def test_two_transactions_counting_the_days_first_comments_at_once_both_count(app, users):
    """Midnight: two readers' comments are the day's first, saved by two transactions at once. Each adds to the day's
    count, which neither finds, in the same moment (a barrier before each statement on the counts per day); both are
    saved and the day counts two. With an UPDATE and then an INSERT where it found no row, both UPDATEs found none
    and the two INSERTs deadlocked, or the second hit the key. Two MariaDB transactions: SQLite lets one writer in
    at a time, so there the second waits for the first before it counts."""
    if backend_of(app) != "mariadb":
        pytest.skip("SQLite runs one write transaction at a time")
    post = make_post(users["author"], status=PostStatus.PUBLISHED)
    post_id, people = post.id, {"pending": users["reader"].id, "approved": users["editor"].id}
    db.session.remove()
    at_once = threading.Barrier(2, timeout=10)
    counting = {}

    def meet(conn, cursor, statement, parameters, context, executemany):
        if CommentDayCount.__tablename__ in statement and threading.get_ident() in counting:
            at_once.wait()

    def save(status: str, errors: list) -> None:
        # Different statuses: the two add to different per-status rows, so neither waits for the other before
        # counting the day.
        with app.app_context():
            counting[threading.get_ident()] = status
            try:
                db.session.add(Comment(body=status, body_html=status, author_id=people[status], post_id=post_id,
                                       status=status))  # fmt: skip
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 (the test reports what failed)
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    errors: list = []
    run_together(db.engine, meet, [(save, status, errors) for status in people])
    assert errors == []
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 2
    assert stored_days() == {utcnow().date(): 2}
    assert_exact()
