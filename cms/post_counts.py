"""Exact per-status post counts, kept in the transaction of every change (cms/status_counts.py), so the post list
filtered by a status, or not filtered, shows its count from four rows instead of counting the posts.

Posts change one by one through the ORM; posts that go with a deleted account (ON DELETE CASCADE) are uncounted
in the flush, and bulk loads (the seed) call `recount`.
"""

from __future__ import annotations

from cms.models import Post, PostStatus, PostStatusCount
from cms.status_counts import StatusCounter


def _removed_with(post_ids: list[int], user_ids: list[int]):
    return Post.author_id.in_(user_ids)


POSTS = StatusCounter(
    name="post",
    model=Post,
    table=PostStatusCount,
    removed_with=_removed_with,
    statuses=PostStatus,
    default=PostStatus.DRAFT,
)

counts = POSTS.counts
true_counts = POSTS.true_counts
mismatches = POSTS.mismatches
recount = POSTS.recount
