"""Comment rules: statuses and bulk moderation."""

from sqlalchemy import update

from cms.extensions import db
from cms.models import COMMENT_STATUSES, Comment


class CommentError(ValueError):
    """A comment change the rules refuse."""


def set_comment_status(ids: list[int], status: str) -> int:
    """Move the given comments to `status` in one statement; returns how many changed."""
    if status not in COMMENT_STATUSES:
        raise CommentError(f"Unknown comment status {status!r}.")
    if not ids:
        return 0
    result = db.session.execute(
        update(Comment).where(Comment.id.in_(ids), Comment.status != status).values(status=status)
    )
    db.session.commit()
    return result.rowcount
