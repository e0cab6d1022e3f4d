"""Comment rules: who may comment, new comments, and bulk moderation."""

from flask import current_app
from sqlalchemy import update

from cms import page_cache
from cms.extensions import db
from cms.markup import render_comment
from cms.models import COMMENT_STATUSES, Comment, Post, User
from cms.permissions import Perm, user_can

MAX_COMMENT_LENGTH = 5000


class CommentError(ValueError):
    """A comment change the rules refuse; the message is shown to the user."""


class CommentNotAllowed(CommentError):
    """The user may not comment (no COMMENT permission, inactive, or email not confirmed)."""


def may_comment(user: User) -> bool:
    """Readers with COMMENT may comment once their email address is confirmed."""
    return bool(user.active and user.confirmed_at and user_can(user, Perm.COMMENT))


def add_comment(user: User, post: Post, body: str) -> Comment:
    if not may_comment(user):
        raise CommentNotAllowed("Confirm your email address to comment.")
    body = (body or "").strip()
    if not body:
        raise CommentError("A comment cannot be empty.")
    if len(body) > MAX_COMMENT_LENGTH:
        raise CommentError(f"A comment can be at most {MAX_COMMENT_LENGTH} characters long.")
    premoderated = current_app.config["COMMENTS_PREMODERATED"]
    comment = Comment(
        body=body,
        body_html=render_comment(body),
        author=user,
        post=post,
        status="pending" if premoderated else "approved",
    )
    db.session.add(comment)
    db.session.commit()
    return comment


def set_comment_status(ids: list[int], status: str) -> int:
    """Move the given comments to `status` in one statement; returns how many changed."""
    if status not in COMMENT_STATUSES:
        raise CommentError(f"Unknown comment status {status!r}.")
    if not ids:
        return 0
    result = db.session.execute(
        update(Comment).where(Comment.id.in_(ids), Comment.status != status).values(status=status)
    )
    page_cache.bump()
    db.session.commit()
    return result.rowcount  # type: ignore[attr-defined]
