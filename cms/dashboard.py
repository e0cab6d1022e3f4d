"""What needs attention, for the console's front page: the figures, and each role's own lists."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, load_only, selectinload

from cms import comment_counts
from cms.counting import count_up_to
from cms.extensions import db
from cms.models import Comment, CommentStatus, Post, PostStatus, PostTranslation, User, utcnow
from cms.posts import needs_translation, translation_state

CHART_DAYS = 30
LIST_ITEMS = 5  # rows each of a dashboard's lists shows; its figure and link lead to the rest
COUNT_CAP = 1000  # a dashboard figure counts this far, then says "1000+"
RECENT_COMMENT_DAYS = 30  # "recent comments on your posts": written within this many days


@dataclass(frozen=True)
class Figure:
    """A count that stops at COUNT_CAP, and the first rows it counts."""

    count: int
    exact: bool
    rows: list


def _figure(ids, rows) -> Figure:
    count, exact = count_up_to(ids, COUNT_CAP)
    return Figure(count, exact, list(db.session.scalars(rows.limit(LIST_ITEMS))))


_POST_COLUMNS = load_only(Post.id, Post.title, Post.status, Post.published_at, Post.updated_at, Post.author_id)


def writer_work(user: User) -> dict[str, Figure]:
    """An author's own drafts and posts in review (latest changed first), and recent comments on their posts."""
    work = {}
    for key, status in (("my_drafts", PostStatus.DRAFT), ("my_review", PostStatus.REVIEW)):
        mine = (Post.author_id == user.id, Post.status == status)
        work[key] = _figure(
            select(Post.id).where(*mine),
            select(Post).where(*mine).options(_POST_COLUMNS).order_by(Post.updated_at.desc(), Post.id.desc()),
        )
    since = utcnow() - timedelta(days=RECENT_COMMENT_DAYS)
    on_mine = (
        Comment.status == CommentStatus.APPROVED,
        Comment.created_at >= since,
        Comment.post_id.in_(select(Post.id).where(Post.author_id == user.id)),
    )
    work["comments_on_mine"] = _figure(
        select(Comment.id).where(*on_mine),
        select(Comment)
        .where(*on_mine)
        .options(joinedload(Comment.post).options(_POST_COLUMNS), joinedload(Comment.author).noload(User.roles))
        .order_by(Comment.created_at.desc(), Comment.id.desc()),
    )
    return work


def editor_work() -> dict[str, Figure]:
    """The review queue (longest waiting first) and the schedule (next to go live first)."""
    in_review = Post.status == PostStatus.REVIEW
    review_rows = select(Post).where(in_review).options(_POST_COLUMNS, joinedload(Post.author).noload(User.roles))
    scheduled_rows = select(Post).where(Post.is_scheduled).options(_POST_COLUMNS)
    return {
        "review_queue": _figure(select(Post.id).where(in_review), review_rows.order_by(Post.updated_at, Post.id)),
        "schedule": _figure(
            select(Post.id).where(Post.is_scheduled), scheduled_rows.order_by(Post.published_at, Post.id)
        ),
    }


def moderation_queue() -> Figure:
    """Comments waiting for a moderator, oldest first (the order the queue is worked in)."""
    pending = Comment.status == CommentStatus.PENDING
    return _figure(
        select(Comment.id).where(pending),
        select(Comment)
        .where(pending)
        .options(joinedload(Comment.post).options(_POST_COLUMNS), joinedload(Comment.author).noload(User.roles))
        .order_by(Comment.created_at, Comment.id),
    )


def translation_work(languages: list[str]) -> tuple[Figure, list[tuple[Post, dict[str, str]]]]:
    """Published posts waiting for a translation into one of `languages`, newest first, with each one's states."""
    if not languages:
        return Figure(0, True, []), []
    waiting = (Post.status == PostStatus.PUBLISHED, needs_translation(languages))
    figure = _figure(
        select(Post.id).where(*waiting),
        select(Post)
        .where(*waiting)
        .options(
            load_only(Post.id, Post.title, Post.locale, Post.content_changed_at),
            selectinload(Post.translations).load_only(PostTranslation.locale, PostTranslation.source_changed_at),
        )
        .order_by(Post.published_at.desc(), Post.id.desc()),
    )
    return figure, [(post, translation_state(post, languages)) for post in figure.rows]


def attention() -> dict:
    """The administrator's figure: accounts opened in the last week."""
    now = utcnow()
    # From the whole second a week ago: the figure links to the account list filtered "member since after" the
    # second before (admin_views.dashboard), which lists from that whole second on, so both show the same accounts.
    week_ago = (now - timedelta(days=7)).replace(microsecond=0)
    return {
        "new_users_week": db.session.scalar(select(func.count(User.id)).where(User.member_since >= week_ago)) or 0,
        "week_ago": week_ago,
        "now": now,
    }


def comments_per_day(days: int = CHART_DAYS) -> list[tuple[date, int]]:
    """Comments written on each of the last `days` days (UTC), zero-filled, oldest first: from the stored counts
    per day (cms/comment_counts.py), not the comments."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    counts = comment_counts.per_day(first, today)
    return [(day, counts.get(day, 0)) for day in (first + timedelta(days=i) for i in range(days))]
