"""The public page cache. Pages are keyed by a content version that every visible change bumps inside its
own transaction (so all workers see it, whatever the cache backend), and by scheduled posts coming due.
Pages live in the shared cache (Redis when configured); each worker keeps a few recent ones of its own in front
of it (`LocalState`), and anonymous readers' pages are read from the replica when one is configured."""

from __future__ import annotations

import bisect
import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app, has_app_context, make_response, request, session
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.http import generate_etag

from cms.extensions import cache, db, read_from_replica, reads_replica
from cms.headers import carries_nonce
from cms.locale import supported_locales
from cms.models import (
    Comment,
    CommentStatus,
    ContentVersion,
    Follow,
    Media,
    Post,
    PostTranslation,
    User,
    utcnow,
)
from cms.routing import LARGEST_INTEGER

PAGE_TIMEOUT = 3600
# What public pages show of a user; last_seen and the like change all the time and show nowhere.
PUBLIC_USER_FIELDS = ("username", "name", "about_me", "active")
DUE_LOOKAHEAD = 200  # scheduled publish times remembered per content version


def _touches_public_content(session: Session) -> bool:
    """Whether the flush changes what a public page shows: posts, their translations, approved comments, follows
    (an author's page counts and lists followers), images (a post's featured one) and what an account shows; a
    deleted account takes its posts, comments and follows with it (ON DELETE CASCADE)."""
    for obj in session.new:
        if isinstance(obj, Post | PostTranslation | Follow) or (
            isinstance(obj, Comment) and obj.status == CommentStatus.APPROVED
        ):
            return True
    for obj in session.deleted:
        # An image too: the database clears a post's featured image (ON DELETE SET NULL), unseen by the session.
        if isinstance(obj, Post | PostTranslation | Comment | Follow | User | Media):
            return True
    for obj in session.dirty:
        if isinstance(obj, Post | PostTranslation | Comment | Media) and session.is_modified(obj):
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
    now = utcnow()
    changed = sa.update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1, changed_at=now)
    if not execute(changed).rowcount:  # type: ignore[union-attr]
        execute(sa.insert(ContentVersion).values(id=1, n=1, changed_at=now))


def _bump_on_flush(session: Session, flush_context) -> None:
    if _touches_public_content(session):
        bump(session.connection())


def listen() -> None:
    if not sa.event.contains(Session, "after_flush", _bump_on_flush):
        sa.event.listen(Session, "after_flush", _bump_on_flush)
        sa.event.listen(Session, "after_commit", _forget_version)


class LocalState:
    """What one app in one process remembers between requests; nothing here is the only copy of anything.

    - the content version as last read, trusted for PAGE_CACHE_VERSION_TTL seconds (the worker that changed
      content re-reads it at once);
    - the scheduled publish times of that version (they change only with the version);
    - copies of the pages last served: at most PAGE_CACHE_LOCAL_ITEMS (least recently used go first), each for
      at most PAGE_CACHE_LOCAL_TTL seconds, all dropped when a new content version is read.

    Times are wall-clock (`time.time()`, which tests can set); a clock stepped backwards simply re-reads."""

    def __init__(self) -> None:
        self.version = 0
        self.changed_at: datetime | None = None
        self.version_read_at = float("-inf")
        self.due: tuple[int, list[datetime]] | None = None
        self.pages: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
        self.lock = threading.Lock()

    def forget_version(self) -> None:
        self.version_read_at = float("-inf")

    def set_version(self, version: int, changed_at: datetime | None, now: float) -> None:
        with self.lock:
            if version != self.version:
                self.pages.clear()
                self.due = None
            self.version, self.changed_at, self.version_read_at = version, changed_at, now

    def page(self, key: str, ttl: float, now: float) -> tuple | None:
        with self.lock:
            entry = self.pages.get(key)
            if entry is None:
                return None
            if not 0 <= now - entry[0] <= ttl:
                del self.pages[key]
                return None
            self.pages.move_to_end(key)
            return entry[1]

    def keep_page(self, key: str, page: tuple, items: int, now: float) -> None:
        if items <= 0:
            return
        with self.lock:
            self.pages[key] = (now, page)
            self.pages.move_to_end(key)
            while len(self.pages) > items:
                self.pages.popitem(last=False)


STATES = ("cms.page_cache", "cms.page_cache.replica")  # what this process read from the primary, and the replica


def local_state(app=None) -> LocalState:
    """This process's memory of the database the request reads: the primary, or the replica for anonymous readers.
    One memory for both served a version read from the primary to a reader of a lagging replica, whose page was
    then kept under that newer version, and outlived the lag."""
    extensions = (app or current_app).extensions
    name = STATES[1] if reads_replica() else STATES[0]
    if name not in extensions:
        extensions[name] = LocalState()
    return extensions[name]


def _forget_version(session=None) -> None:
    if has_app_context():
        for name in STATES:
            if name in current_app.extensions:
                current_app.extensions[name].forget_version()


def content_version() -> int:
    state = local_state()
    ttl = current_app.config.get("PAGE_CACHE_VERSION_TTL", 1.0)
    now = time.time()
    if ttl <= 0 or not 0 <= now - state.version_read_at <= ttl:
        row = db.session.execute(
            sa.select(ContentVersion.n, ContentVersion.changed_at).where(ContentVersion.id == 1)
        ).first()
        version, changed_at = row if row is not None else (0, None)
        state.set_version(int(version or 0), changed_at, now)
    return state.version


def _upcoming(version: int) -> list[datetime]:
    """Scheduled publish times still ahead when `version` was first seen (at most DUE_LOOKAHEAD); this worker's
    copy first, then the shared cache's, then the database's."""
    state = local_state()
    local = current_app.config.get("PAGE_CACHE_LOCAL_ITEMS", 0) > 0
    times = state.due[1] if local and state.due is not None and state.due[0] == version else None
    times = cache.get(f"cms:due:{version}") if times is None else times
    if times is None or (len(times) >= DUE_LOOKAHEAD and times[-1] <= utcnow()):
        times = list(
            db.session.scalars(
                sa.select(Post.published_at).where(Post.is_scheduled).order_by(Post.published_at).limit(DUE_LOOKAHEAD)
            )
        )
        cache.set(f"cms:due:{version}", times, timeout=PAGE_TIMEOUT)
    if local and version == state.version:
        state.due = (version, times)
    return times


def content_changed_at() -> datetime | None:
    """When what the public may see last changed: the content version's last move, or a scheduled post coming due
    since. A page's Last-Modified is never older: a post withdrawn, an author renamed or a scheduled post going live
    moves no stamp of the posts a page lists, and a reader asking If-Modified-Since alone got a 304 for the old
    page."""
    version = content_version()
    changed_at = local_state().changed_at
    times = _upcoming(version)
    index = bisect.bisect_right(times, utcnow())
    due = times[index - 1] if index else None
    return max(filter(None, (changed_at, due)), default=None)


def content_key() -> str:
    """Changes whenever what the public may see changes: an edit, a moderation, or a scheduled post coming
    due (the next publish time still ahead is part of the key, so it changes as each one passes)."""
    version = content_version()
    times = _upcoming(version)
    index = bisect.bisect_right(times, utcnow())
    upcoming = times[index].isoformat() if index < len(times) else "none"
    return f"{version}:{upcoming}"


def _whole(text: str, most: int) -> bool:
    """A whole number from 1 to `most` as it is written for one: `01`, `%31`, ` 1` and `1e3` are not. A number longer
    than `most` is not read (Python refuses to read one of over 4,300 digits: a 500 for an anonymous reader)."""
    return text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= len(str(most)) and int(text) <= most


# The query arguments a cached page's content may depend on, each with the values kept: one spelling of each page
# (`?page=01`, `?page=x` and `?page=1` were three stored copies of the first page), sizes to the API's largest and
# the site's languages. A page asked for with any other argument or value (?utm_source=…, ?page=x0, ?page=x1, …) is
# rendered and not stored: every such address was kept for PAGE_TIMEOUT, so a crawler or a hostile client could
# fill the shared cache without bound.
CACHED_ARGUMENTS: dict[str, Callable[[str], bool]] = {
    "page": lambda value: _whole(value, LARGEST_INTEGER),
    "per_page": lambda value: _whole(value, 100),
    "locale": lambda value: value in supported_locales(),
}
LIST_ARGUMENTS = ("page", "per_page")  # what a public list reads


def _known_arguments() -> bool:
    """Whether the request's arguments are ones its view reads (`cached_page(arguments=…)`), each once, with a
    value kept (CACHED_ARGUMENTS). ?page= on a post page, which reads none, gave a copy per number."""
    view = current_app.view_functions.get(request.endpoint or "")
    read: frozenset[str] = getattr(view, "cached_arguments", frozenset())
    return all(
        name in read and len(request.args.getlist(name)) == 1 and CACHED_ARGUMENTS[name](request.args[name])
        for name in request.args
    )


def _cacheable() -> bool:
    return (
        request.method == "GET"
        and not current_user.is_authenticated
        and not session.get("_flashes")
        and current_app.config.get("PAGE_CACHE", True)
        and _known_arguments()
    )


def _anonymous_page_request() -> bool:
    """A GET of a cached public page (public site, API) by a reader who sent no session or remember cookie."""
    view = current_app.view_functions.get(request.endpoint or "")
    return (
        getattr(view, "cached_page", False)
        and request.method == "GET"
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and "remember_token" not in request.cookies
        and _known_arguments()
    )


def _page_key() -> str:
    # The scheme too: a page holds absolute links (feeds, canonical and language alternates), and one stored from
    # http:// was served to https:// readers (mixed content) where a site answers both.
    # The arguments as read, in order: ?page=%31 is ?page=1, and ?a=1&b=2 is ?b=2&a=1.
    arguments = urlencode(sorted(request.args.items()))
    address = f"{request.scheme}://{request.host}{request.path}?{arguments}"
    digest = hashlib.sha1(address.encode(), usedforsecurity=False).hexdigest()
    return f"cms:page:{content_key()}:{digest}"


def _keep_locally(key: str, page: tuple) -> tuple:
    """This worker's copy of a page from the shared cache: (body, mimetype, last_modified) and the body's ETag."""
    body, mimetype, last_modified = page
    copy = (body, mimetype, last_modified, generate_etag(body))
    local_state().keep_page(key, copy, current_app.config.get("PAGE_CACHE_LOCAL_ITEMS", 0), time.time())
    return copy


def _cached_response(key: str):
    hit = local_state().page(key, current_app.config.get("PAGE_CACHE_LOCAL_TTL", 0.0), time.time())
    if hit is None:
        shared = cache.get(key)
        if shared is None:
            return None
        hit = _keep_locally(key, shared)
    body, mimetype, last_modified, etag = hit
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Vary"] = "Cookie"
    return conditional(response, last_modified, etag)


def serve_cached_page():
    """Before anything else runs: a reader with no session asking for a cached page gets it at once. What is read
    for that reader (the content version, then the page on a miss) comes from the replica, when one is configured:
    a page is never stored under a version newer than the database it was read from."""
    if not _anonymous_page_request():
        return None
    read_from_replica()
    if not current_app.config.get("PAGE_CACHE", True):
        return None
    return _cached_response(_page_key())


def register(app) -> None:
    """Serve cached pages ahead of the other before-request hooks (sign-in, identity, last seen)."""
    app.before_request_funcs.setdefault(None, []).insert(0, serve_cached_page)


# Request headers that can turn a 200 into a 304 (or a range): without them there is nothing to compare.
CONDITIONAL_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                       "HTTP_IF_RANGE", "HTTP_RANGE")  # fmt: skip


def conditional(response, last_modified: datetime | None = None, etag: str | None = None):
    """ETag (`etag`, else the body's hash) and Last-Modified on a response, answering 304 when the client already
    has it."""
    if response.status_code == 200:
        if etag is None:
            response.add_etag()
        else:
            response.set_etag(etag)
        if last_modified is not None:
            response.last_modified = last_modified
        if any(name in request.environ for name in CONDITIONAL_HEADERS):
            response.make_conditional(request)
    return response


def cached_page(view=None, *, arguments: tuple[str, ...] = ()):
    """Cache a public view's response for anonymous readers; every reader gets ETag / Last-Modified / 304.

    The view returns (body, last_modified) or a response; only 200 answers are stored. `arguments` are the query
    arguments it reads (names of CACHED_ARGUMENTS); a request with any other is rendered and not stored.
    """
    if view is None:
        return functools.partial(cached_page, arguments=arguments)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = None
        if _cacheable():
            read_from_replica()  # as for serve_cached_page: the version and the page from one database
            key = _page_key()
            hit = _cached_response(key)
            if hit is not None:
                return hit
        result = view(*args, **kwargs)
        last_modified = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], datetime | None):
            result, last_modified = result
            if last_modified is not None:
                last_modified = max(filter(None, (last_modified, content_changed_at())))
        response = make_response(result)
        # A body holding this request's CSP nonce would be served later under another request's nonce, and its
        # scripts blocked: such a page is not stored.
        if (
            key is not None
            and response.status_code == 200
            and not response.direct_passthrough
            and not session.modified
            and not carries_nonce(response.get_data())
        ):
            page = (response.get_data(), response.mimetype, last_modified)
            cache.set(key, page, timeout=PAGE_TIMEOUT)
            _keep_locally(key, page)
        response.vary.add("Cookie")
        return conditional(response, last_modified)

    wrapper.cached_page = True  # type: ignore[attr-defined]
    wrapper.cached_arguments = frozenset(arguments)  # type: ignore[attr-defined]
    return wrapper
