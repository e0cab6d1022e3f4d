"""Following authors: follow, unfollow, who follows whom, and the feed of followed authors' posts."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError

from cms import page_cache
from cms.content import with_content
from cms.domain import DomainError
from cms.extensions import db
from cms.models import Follow, Post, User
from cms.permissions import Perm, user_can
from cms.posts import public_posts


class FollowError(DomainError):
    """A follow the rules refuse; the message is shown to the reader."""


def is_following(follower: User, author: User) -> bool:
    found = db.session.scalar(
        select(func.count()).where(Follow.follower_id == follower.id, Follow.followed_id == author.id)
    )
    return bool(found)


def follow(follower: User, author: User) -> bool:
    """Follow `author`; returns False when already following."""
    if not user_can(follower, Perm.FOLLOW):
        raise FollowError(_l("You may not follow authors."))
    if follower.id == author.id:
        raise FollowError(_l("You cannot follow yourself."))
    if is_following(follower, author):
        return False
    db.session.add(Follow(follower_id=follower.id, followed_id=author.id))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if is_following(follower, author):  # saved by a request beside this one (two tabs, a double click)
            return False
        raise
    return True


def unfollow(follower: User, author: User) -> bool:
    result = db.session.execute(
        delete(Follow).where(Follow.follower_id == follower.id, Follow.followed_id == author.id)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        page_cache.bump()  # a bulk statement: no flush sees it
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def follower_count(user: User) -> int:
    """The followers `followers_of` lists: active accounts only (a deactivated one counted, and was not listed)."""
    active = select(func.count()).select_from(Follow).join(User, Follow.follower_id == User.id)
    return db.session.scalar(active.where(Follow.followed_id == user.id, User.active.is_(True))) or 0


def following_count(user: User) -> int:
    """The accounts `followed_by` lists: active ones only."""
    active = select(func.count()).select_from(Follow).join(User, Follow.followed_id == User.id)
    return db.session.scalar(active.where(Follow.follower_id == user.id, User.active.is_(True))) or 0


def followers_of(user: User) -> Select:
    return (
        select(User)
        .join(Follow, Follow.follower_id == User.id)
        .where(Follow.followed_id == user.id, User.active.is_(True))
        .order_by(Follow.created_at.desc(), User.id)
    )


def followed_by(user: User) -> Select:
    return (
        select(User)
        .join(Follow, Follow.followed_id == User.id)
        .where(Follow.follower_id == user.id, User.active.is_(True))
        .order_by(Follow.created_at.desc(), User.id)
    )


def following_feed(user: User) -> Select:
    """Published posts by the authors `user` follows, newest first."""
    followed = select(Follow.followed_id).where(Follow.follower_id == user.id)
    return with_content(public_posts().where(Post.author_id.in_(followed)))
