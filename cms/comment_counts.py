"""Exact per-status comment counts, kept in the transaction of every change, so the moderation queue's status
tabs read three rows instead of counting a million.

ORM changes (a new comment, a moderator's edit, a deleted comment, post or account whose comments go with it by
ON DELETE CASCADE) are counted by a flush hook; services that change comments with bulk statements call
`adjust_for_status_change` or `adjust_for_delete` before their statement. `recount` rebuilds the table from the
comments themselves (after a bulk load), and `flask cms check-counts` compares the two.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cms.extensions import db
from cms.models import Comment, CommentStatus, CommentStatusCount, Post, User

_PENDING_KEY = "cms.comment_count_deltas"


def counts() -> dict[str, int]:
    """The count of each status (every status present, zero when none)."""
    stored = dict(db.session.execute(sa.select(CommentStatusCount.status, CommentStatusCount.n)).tuples().all())
    return {status.value: int(stored.get(status.value, 0)) for status in CommentStatus}


def true_counts(session=None) -> dict[str, int]:
    """The counts from the comment table itself (a full scan: for checks and repairs, never for pages)."""
    session = session or db.session
    rows = session.execute(sa.select(Comment.status, sa.func.count()).group_by(Comment.status)).tuples().all()
    found = dict.fromkeys((status.value for status in CommentStatus), 0)
    found.update({status: int(n) for status, n in rows})
    return found


def mismatches() -> dict[str, tuple[int, int]]:
    """Statuses whose stored count differs from the truth: {status: (stored, true)}."""
    stored, truth = counts(), true_counts()
    return {status: (stored.get(status, 0), n) for status, n in truth.items() if stored.get(status, 0) != n}


def recount() -> dict[str, int]:
    """Rebuild the stored counts from the comments (after a bulk load, or to repair); committed."""
    truth = true_counts()
    db.session.execute(sa.delete(CommentStatusCount))
    db.session.execute(sa.insert(CommentStatusCount), [{"status": s, "n": n} for s, n in truth.items()])
    db.session.commit()
    return truth


def _apply(connection, deltas: Counter) -> None:
    for status, delta in deltas.items():
        if not delta:
            continue
        result = connection.execute(
            sa.update(CommentStatusCount)
            .where(CommentStatusCount.status == status)
            .values(n=CommentStatusCount.n + delta)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:
            connection.execute(sa.insert(CommentStatusCount).values(status=status, n=delta))


def _grouped(connection, where) -> Counter:
    rows = connection.execute(sa.select(Comment.status, sa.func.count()).where(*where).group_by(Comment.status))
    return Counter({status: int(n) for status, n in rows})


def adjust_for_status_change(ids: list[int], new_status: str) -> None:
    """Before `UPDATE comment SET status = new_status WHERE id IN ids AND status != new_status`."""
    connection = db.session.connection()
    moving = _grouped(connection, [Comment.id.in_(ids), Comment.status != new_status])
    deltas = Counter({status: -n for status, n in moving.items()})
    deltas[new_status] += sum(moving.values())
    _apply(connection, deltas)


def adjust_for_delete(ids: list[int]) -> None:
    """Before `DELETE FROM comment WHERE id IN ids`."""
    connection = db.session.connection()
    _apply(connection, Counter({s: -n for s, n in _grouped(connection, [Comment.id.in_(ids)]).items()}))


def _status_of(comment: Comment) -> str:
    return comment.status or CommentStatus.PENDING


def _before_flush(session: Session, flush_context, instances) -> None:
    deltas: Counter = session.info.setdefault(_PENDING_KEY, Counter())
    for obj in session.new:
        if isinstance(obj, Comment):
            deltas[_status_of(obj)] += 1
    for obj in session.dirty:
        if isinstance(obj, Comment):
            history = sa.inspect(obj).attrs.status.history
            if history.deleted and history.added and history.deleted[0] != history.added[0]:
                deltas[history.deleted[0]] -= 1
                deltas[history.added[0]] += 1
    deleted_comments = [obj for obj in session.deleted if isinstance(obj, Comment)]
    for comment in deleted_comments:
        deltas[_status_of(comment)] -= 1
    post_ids = [obj.id for obj in session.deleted if isinstance(obj, Post)]
    user_ids = [obj.id for obj in session.deleted if isinstance(obj, User)]
    if post_ids or user_ids:
        # Their comments go with them by ON DELETE CASCADE, which no ORM event sees.
        cascaded = sa.or_(
            Comment.post_id.in_(post_ids),
            Comment.author_id.in_(user_ids),
            Comment.post_id.in_(sa.select(Post.id).where(Post.author_id.in_(user_ids))),
        )
        where = [cascaded]
        if deleted_comments:
            where.append(Comment.id.not_in([c.id for c in deleted_comments]))
        for status, n in _grouped(session.connection(), where).items():
            deltas[status] -= n


def _after_flush(session: Session, flush_context) -> None:
    deltas = session.info.pop(_PENDING_KEY, None)
    if deltas:
        _apply(session.connection(), deltas)


def _forget(session: Session, *args) -> None:
    session.info.pop(_PENDING_KEY, None)


def listen() -> None:
    """Count every ORM change to comments in the flush that writes it."""
    for name, hook in (("before_flush", _before_flush), ("after_flush", _after_flush), ("after_rollback", _forget)):
        if not sa.event.contains(Session, name, hook):
            sa.event.listen(Session, name, hook)
