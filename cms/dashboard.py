"""What needs attention, for the console's front page."""

from datetime import date, timedelta

from sqlalchemy import func, select

from cms.extensions import db
from cms.models import Comment, CommentStatus, Post, PostStatus, User, utcnow

CHART_DAYS = 30


def attention() -> dict:
    now = utcnow()
    week_ago = now - timedelta(days=7)
    count = db.session.scalar
    return {
        "pending_comments": count(select(func.count(Comment.id)).where(Comment.status == CommentStatus.PENDING)) or 0,
        "posts_in_review": count(select(func.count(Post.id)).where(Post.status == PostStatus.REVIEW)) or 0,
        "scheduled_posts": count(select(func.count(Post.id)).where(Post.is_scheduled)) or 0,
        "new_users_week": count(select(func.count(User.id)).where(User.member_since >= week_ago)) or 0,
        "week_ago": week_ago,
        "now": now,
    }


def comments_per_day(days: int = CHART_DAYS) -> list[tuple[date, int]]:
    """Comments written on each of the last `days` days (UTC), zero-filled, oldest first."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    day = func.date(Comment.created_at)
    # status IN (all) lets the (status, created_at) index serve the date range on every database.
    rows = db.session.execute(
        select(day, func.count())
        .where(Comment.status.in_(tuple(CommentStatus)), Comment.created_at >= first)
        .group_by(day)
    )
    counts = {str(d): n for d, n in rows}
    return [(first + timedelta(days=i), counts.get(str(first + timedelta(days=i)), 0)) for i in range(days)]
