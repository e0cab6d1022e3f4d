"""The public page cache. Pages are keyed by a content version that every visible change bumps inside its
own transaction (so all workers see it, whatever the cache backend), and by scheduled posts coming due."""

from __future__ import annotations

import bisect
import functools
import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, make_response, request, session
from flask_login import current_user
from sqlalchemy.orm import Session

from cms.extensions import cache, db
from cms.models import Comment, ContentVersion, Post, PostTranslation, User, utcnow

PAGE_TIMEOUT = 3600
# What public pages show of a user; last_seen and the like change all the time and show nowhere.
PUBLIC_USER_FIELDS = ("username", "name", "about_me", "active")
DUE_LOOKAHEAD = 200  # scheduled publish times remembered per content version


def _touches_public_content(session: Session) -> bool:
    for obj in session.new:
        if isinstance(obj, Post | PostTranslation) or (isinstance(obj, Comment) and obj.status == "approved"):
            return True
    for obj in session.deleted:
        if isinstance(obj, Post | PostTranslation | Comment):
            return True
    for obj in session.dirty:
        if isinstance(obj, Post | PostTranslation | Comment) and session.is_modified(obj):
            return True
        if isinstance(obj, User) and _changed(obj, PUBLIC_USER_FIELDS):
            return True
    return False


def _changed(obj, fields) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[field].history.has_changes() for field in fields)


def bump(connection=None) -> None:
    """Mark public content as changed; call inside the transaction that changed it."""
    execute = connection.execute if connection is not None else db.session.execute
    result = execute(sa.update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1))
    if not result.rowcount:
        execute(sa.insert(ContentVersion).values(id=1, n=1))


def _bump_on_flush(session: Session, flush_context) -> None:
    if _touches_public_content(session):
        bump(session.connection())


def listen() -> None:
    if not sa.event.contains(Session, "after_flush", _bump_on_flush):
        sa.event.listen(Session, "after_flush", _bump_on_flush)


def _upcoming(version: int) -> list[datetime]:
    """Scheduled publish times still ahead when `version` was first seen (at most DUE_LOOKAHEAD)."""
    key = f"cms:due:{version}"
    times = cache.get(key)
    if times is None or (len(times) >= DUE_LOOKAHEAD and times[-1] <= utcnow()):
        times = list(
            db.session.scalars(
                sa.select(Post.published_at)
                .where(Post.status == "published", Post.published_at > utcnow())
                .order_by(Post.published_at)
                .limit(DUE_LOOKAHEAD)
            )
        )
        cache.set(key, times, timeout=PAGE_TIMEOUT)
    return times


def content_key() -> str:
    """Changes whenever what the public may see changes: an edit, a moderation, or a scheduled post coming
    due (the next publish time still ahead is part of the key, so it changes as each one passes)."""
    version = db.session.scalar(sa.select(ContentVersion.n).where(ContentVersion.id == 1)) or 0
    times = _upcoming(version)
    index = bisect.bisect_right(times, utcnow())
    upcoming = times[index].isoformat() if index < len(times) else "none"
    return f"{version}:{upcoming}"


def _cacheable() -> bool:
    return (
        request.method == "GET"
        and not current_user.is_authenticated
        and not session.get("_flashes")
        and current_app.config.get("PAGE_CACHE", True)
    )


def conditional(response, last_modified: datetime | None = None):
    """ETag and Last-Modified on a response, answering 304 when the client already has it."""
    if response.status_code == 200:
        response.add_etag()
        if last_modified is not None:
            response.last_modified = last_modified
        response.make_conditional(request)
    return response


def cached_page(view):
    """Cache a public view's response for anonymous readers; every reader gets ETag / Last-Modified / 304.

    The view returns (body, last_modified) or a response; only 200 answers are stored.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = None
        if _cacheable():
            digest = hashlib.sha1(f"{request.host}{request.full_path}".encode(), usedforsecurity=False).hexdigest()
            key = f"cms:page:{content_key()}:{digest}"
            hit = cache.get(key)
            if hit is not None:
                body, mimetype, last_modified = hit
                return conditional(current_app.response_class(body, mimetype=mimetype), last_modified)
        result = view(*args, **kwargs)
        last_modified = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], datetime | None):
            result, last_modified = result
        response = make_response(result)
        if key is not None and response.status_code == 200 and not response.direct_passthrough:
            cache.set(key, (response.get_data(), response.mimetype, last_modified), timeout=PAGE_TIMEOUT)
        response.vary.add("Cookie")
        return conditional(response, last_modified)

    return wrapper
