"""The public page cache. Pages are keyed by a content version that every visible change bumps inside its
own transaction (so all workers see it, whatever the cache backend), and by scheduled posts coming due."""

from __future__ import annotations

import bisect
import functools
import hashlib
import time
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, make_response, request, session
from flask_login import current_user
from sqlalchemy.orm import Session

from cms.extensions import cache, db
from cms.models import Comment, CommentStatus, ContentVersion, Post, PostTranslation, User, utcnow

PAGE_TIMEOUT = 3600
# What public pages show of a user; last_seen and the like change all the time and show nowhere.
PUBLIC_USER_FIELDS = ("username", "name", "about_me", "active")
DUE_LOOKAHEAD = 200  # scheduled publish times remembered per content version


def _touches_public_content(session: Session) -> bool:
    for obj in session.new:
        if isinstance(obj, Post | PostTranslation) or (
            isinstance(obj, Comment) and obj.status == CommentStatus.APPROVED
        ):
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
    _forget_version()
    execute = connection.execute if connection is not None else db.session.execute
    result = execute(sa.update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1))
    if not result.rowcount:  # type: ignore[union-attr]
        execute(sa.insert(ContentVersion).values(id=1, n=1))


def _bump_on_flush(session: Session, flush_context) -> None:
    if _touches_public_content(session):
        bump(session.connection())


def listen() -> None:
    if not sa.event.contains(Session, "after_flush", _bump_on_flush):
        sa.event.listen(Session, "after_flush", _bump_on_flush)
        sa.event.listen(Session, "after_commit", _forget_version)


def _upcoming(version: int) -> list[datetime]:
    """Scheduled publish times still ahead when `version` was first seen (at most DUE_LOOKAHEAD)."""
    key = f"cms:due:{version}"
    times = cache.get(key)
    if times is None or (len(times) >= DUE_LOOKAHEAD and times[-1] <= utcnow()):
        times = list(
            db.session.scalars(
                sa.select(Post.published_at).where(Post.is_scheduled).order_by(Post.published_at).limit(DUE_LOOKAHEAD)
            )
        )
        cache.set(key, times, timeout=PAGE_TIMEOUT)
    return times


# The content version as this process last read it. Re-read at most every PAGE_CACHE_VERSION_TTL seconds,
# and at once after this process itself changed content; other workers see a change within that time.
_seen: dict[str, float] = {"version": 0, "at": float("-inf")}


def _forget_version(session=None) -> None:
    _seen["at"] = float("-inf")


def content_version() -> int:
    ttl = current_app.config.get("PAGE_CACHE_VERSION_TTL", 1.0)
    # Wall-clock time (which tests can set); a clock stepped backwards simply re-reads the version.
    now = time.time()
    if not 0 <= now - _seen["at"] <= ttl:
        _seen["version"] = db.session.scalar(sa.select(ContentVersion.n).where(ContentVersion.id == 1)) or 0
        _seen["at"] = now
    return int(_seen["version"])


def content_key() -> str:
    """Changes whenever what the public may see changes: an edit, a moderation, or a scheduled post coming
    due (the next publish time still ahead is part of the key, so it changes as each one passes)."""
    version = content_version()
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


def _page_key() -> str:
    digest = hashlib.sha1(f"{request.host}{request.full_path}".encode(), usedforsecurity=False).hexdigest()
    return f"cms:page:{content_key()}:{digest}"


def _cached_response(key: str):
    hit = cache.get(key)
    if hit is None:
        return None
    body, mimetype, last_modified = hit
    response = current_app.response_class(body, mimetype=mimetype)
    response.vary.add("Cookie")
    return conditional(response, last_modified)


def serve_cached_page():
    """Before anything else runs: a reader with no session asking for a cached page gets it at once."""
    view = current_app.view_functions.get(request.endpoint or "")
    if (
        getattr(view, "cached_page", False)
        and request.method == "GET"
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and "remember_token" not in request.cookies
        and current_app.config.get("PAGE_CACHE", True)
    ):
        return _cached_response(_page_key())
    return None


def register(app) -> None:
    """Serve cached pages ahead of the other before-request hooks (sign-in, identity, last seen)."""
    app.before_request_funcs.setdefault(None, []).insert(0, serve_cached_page)


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
            key = _page_key()
            hit = _cached_response(key)
            if hit is not None:
                return hit
        result = view(*args, **kwargs)
        last_modified = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], datetime | None):
            result, last_modified = result
        response = make_response(result)
        if key is not None and response.status_code == 200 and not response.direct_passthrough and not session.modified:
            cache.set(key, (response.get_data(), response.mimetype, last_modified), timeout=PAGE_TIMEOUT)
        response.vary.add("Cookie")
        return conditional(response, last_modified)

    wrapper.cached_page = True  # type: ignore[attr-defined]
    return wrapper
