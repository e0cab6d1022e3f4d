"""Exact comment counts per status and per day, kept in the transaction of every change (cms/status_counts.py), so
the moderation queue's status tabs read three rows instead of counting a million, and the console's chart of the
last 30 days reads 30.

Services that change comments with bulk statements call `adjust_for_status_change` or `adjust_for_delete` before
their statement; comments that go with a deleted post or account (ON DELETE CASCADE) are uncounted in the flush.
"""

from __future__ import annotations

import sqlalchemy as sa

from cms.models import Comment, CommentDayCount, CommentStatus, CommentStatusCount, Post
from cms.status_counts import DayCounter, StatusCounter


def _removed_with(post_ids: list[int], user_ids: list[int]):
    return sa.or_(
        Comment.post_id.in_(post_ids),
        Comment.author_id.in_(user_ids),
        Comment.post_id.in_(sa.select(Post.id).where(Post.author_id.in_(user_ids))),
    )


COMMENTS = StatusCounter(
    name="comment",
    model=Comment,
    table=CommentStatusCount,
    removed_with=_removed_with,
    statuses=CommentStatus,
    default=CommentStatus.PENDING,
)
COMMENT_DAYS = DayCounter(name="comments per day", model=Comment, table=CommentDayCount, removed_with=_removed_with)

counts = COMMENTS.counts
true_counts = COMMENTS.true_counts
mismatches = COMMENTS.mismatches
recount = COMMENTS.recount
adjust_for_status_change = COMMENTS.adjust_for_status_change
per_day = COMMENT_DAYS.counts_between


def adjust_for_delete(ids: list[int]) -> None:
    """Before `DELETE … WHERE id IN ids`: both counts."""
    COMMENTS.adjust_for_delete(ids)
    COMMENT_DAYS.adjust_for_delete(ids)
