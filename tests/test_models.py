"""Model-level meanings shared by every layer: when a post is live or scheduled, on a row and in SQL."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from cms.extensions import db
from cms.models import Post, PostStatus, utcnow
from tests.factories import make_post


@pytest.mark.parametrize(
    ("status", "offset", "live", "scheduled"),
    [
        (PostStatus.PUBLISHED, -60, True, False),
        (PostStatus.PUBLISHED, 3600, False, True),
        (PostStatus.DRAFT, -60, False, False),
        (PostStatus.ARCHIVED, -60, False, False),
        (PostStatus.REVIEW, None, False, False),
    ],
)
def test_live_and_scheduled_agree_in_python_and_sql(users, status, offset, live, scheduled):
    published_at = None if offset is None else utcnow() + timedelta(seconds=offset)
    post = make_post(users["author"], status=status, published_at=published_at)
    assert post.is_live is live and post.is_scheduled is scheduled
    assert (db.session.scalar(select(Post.id).where(Post.is_live)) == post.id) is live
    assert (db.session.scalar(select(Post.id).where(Post.is_scheduled)) == post.id) is scheduled


def test_statuses_are_stored_as_their_plain_names(users):
    make_post(users["author"], status=PostStatus.REVIEW)
    assert db.session.scalar(select(Post.status)) == "review"
