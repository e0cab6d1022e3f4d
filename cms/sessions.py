"""Server-side sessions: kept in Redis (CMS_REDIS_URL) or the database's `server_session` table, renewed at sign-in,
ended at sign-out, and ended for every device when the account's password or active flag changes."""

import logging
import threading
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, session
from flask.json.tag import TaggedJSONSerializer
from flask_login.signals import user_logged_in, user_logged_out
from flask_session.base import Serializer, ServerSideSession, ServerSideSessionInterface
from flask_session.redis import RedisSessionInterface
from sqlalchemy.orm import Mapped, Session, mapped_column

from cms import outages
from cms.extensions import Model, db
from cms.models import User, utcnow

log = logging.getLogger(__name__)

# Kept through a sign-out: the instructions Flask-Login and Flask-Security carry out on this response (delete the
# remember cookie, delete the CSRF cookie).
SIGN_OUT_INSTRUCTIONS = ("_remember", "fs_cc")


class ServerSession(Model):
    """One session of the database store (used when Redis is not configured): the cookie holds only its id."""

    __tablename__ = "server_session"

    session_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    expiry: Mapped[datetime] = mapped_column(index=True)  # naive UTC; at or past it the session is gone

    def __repr__(self) -> str:
        return f"<ServerSession …{self.session_id[-6:]} until {self.expiry:%Y-%m-%d %H:%M:%S}>"


class TaggedJSON(Serializer):
    """Session data as Flask's own cookie sessions encode it (tuples, Markup, datetimes come back as they went in),
    and never pickle."""

    def __init__(self) -> None:
        self.tagged = TaggedJSONSerializer()

    def encode(self, session: ServerSideSession) -> bytes:
        return self.tagged.dumps(dict(session)).encode()

    def decode(self, serialized_data: bytes) -> dict:
        return self.tagged.loads(bytes(serialized_data).decode())


def _lifetime(app: Flask, session: ServerSideSession) -> timedelta:
    """How long a stored session lives after its last refresh: PERMANENT_SESSION_LIFETIME while someone is signed
    in, SESSION_ANONYMOUS_LIFETIME otherwise (a sign-in form's CSRF token, a two-factor step in progress)."""
    if "_user_id" in session:
        return app.permanent_session_lifetime
    return min(timedelta(seconds=app.config["SESSION_ANONYMOUS_LIFETIME"]), app.permanent_session_lifetime)


class Revocable:
    """What both stores add to Flask-Session's. A session's id can change mid-request (sign-in, sign-out): the copy
    stored under the old id is deleted when the response is saved, after the request's own commit (SQLite lets
    one connection write at a time). A session read from the store is written back only while it is still there,
    so a request that was in flight when its session ended (sign-out, sign-in, expiry) cannot bring it back."""

    def open_session(self, app: Flask, request) -> ServerSideSession:
        session = super().open_session(app, request)  # type: ignore[misc]
        # Flask-Session keeps the cookie's id only when it found the session stored under it.
        session.stored_sid = (
            session.sid if session.sid == request.cookies.get(app.config["SESSION_COOKIE_NAME"]) else None
        )
        return session

    def regenerate(self, session: ServerSideSession) -> None:
        session.retired = [*getattr(session, "retired", ()), session.sid]  # type: ignore[attr-defined]
        session.sid = self._generate_sid(self.sid_length)  # type: ignore[attr-defined]
        session.modified = True

    def save_session(self, app: Flask, session: ServerSideSession, response) -> None:
        for sid in getattr(session, "retired", ()):
            self._delete_session(self._get_store_id(sid))  # type: ignore[attr-defined]
        super().save_session(app, session, response)  # type: ignore[misc]

    @staticmethod
    def was_stored(session: ServerSideSession) -> bool:
        """Read from the store under the id it still has (not new, not renewed this request)."""
        return session.sid == getattr(session, "stored_sid", None)

    def should_set_storage(self, app: Flask, session: ServerSideSession) -> bool:
        """Changed, or unchanged but last written SESSION_REFRESH_INTERVAL seconds ago or more (or never)."""
        if session.modified:
            return True
        if not app.config["SESSION_REFRESH_EACH_REQUEST"]:
            return False
        ago = self.written_ago(app, session)
        return ago is None or ago >= app.config["SESSION_REFRESH_INTERVAL"]

    def written_ago(self, app: Flask, session: ServerSideSession) -> float | None:
        """Seconds since the store last wrote this session, as read with it; None when it was not read."""
        raise NotImplementedError


class RedisSessions(Revocable, RedisSessionInterface):
    """Flask-Session's Redis store: Redis expires each session by its TTL. A session is read with the time its TTL
    has left, in one round trip; unchanged, it is written back (its TTL set again) at most once per
    SESSION_REFRESH_INTERVAL seconds, not on every request."""

    def __init__(self, app: Flask, client, **options) -> None:
        super().__init__(app, client=client, **options)
        self.serializer = TaggedJSON()
        self._read = threading.local()  # the TTL left of the session this thread read last

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        with self.client.pipeline(transaction=False) as pipe:
            data, left = pipe.get(store_id).pttl(store_id).execute()
        self._read.left = left if data else None
        return self.serializer.decode(data) if data else None

    def open_session(self, app: Flask, request) -> ServerSideSession:
        self._read.left = None
        session = super().open_session(app, request)
        session.ms_left = self._read.left if self.was_stored(session) else None  # type: ignore[attr-defined]
        return session

    def written_ago(self, app: Flask, session: ServerSideSession) -> float | None:
        left = getattr(session, "ms_left", None)
        if left is None or left < 0:  # new, or kept without a TTL
            return None
        return _lifetime(app, session).total_seconds() - left / 1000

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        self.client.set(
            name=store_id,
            value=self.serializer.encode(session),
            ex=int(_lifetime(self.app, session).total_seconds()),
            xx=self.was_stored(session),  # only if still there
        )


class DatabaseSession(ServerSideSession):
    expiry: datetime | None = None  # as stored when the request began; None for a new session
    stored_sid: str | None = None


class DatabaseSessions(Revocable, ServerSideSessionInterface):
    """Flask-Session's interface over the migrated `server_session` table. Reads and writes go through a connection
    of their own on the primary database, so a session write never commits (or waits for) the request's own
    unit of work. The expiry moves forward at most once per SESSION_REFRESH_INTERVAL seconds while nothing else
    changes; expired rows are deleted when read, on average every SESSION_CLEANUP_N_REQUESTS requests, and by
    `flask session_cleanup`."""

    session_class = DatabaseSession
    ttl = False

    def __init__(self, app: Flask, **options) -> None:
        super().__init__(app, key_prefix="", **options)
        self.serializer = TaggedJSON()
        if options.get("cleanup_n_requests"):  # the base class offers the command only without the request hook
            self._register_cleanup_app_command()

    @property
    def table(self) -> sa.Table:
        return ServerSession.__table__  # type: ignore[return-value]

    def open_session(self, app: Flask, request) -> DatabaseSession:  # in place of Flask-Session's and Revocable's
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid:
            with db.engine.connect() as conn:
                row = conn.execute(
                    sa.select(self.table.c.data, self.table.c.expiry).where(self.table.c.session_id == sid)
                ).first()
            if row is not None and row.expiry > utcnow():
                try:
                    session = self.session_class(self.serializer.decode(row.data), sid=sid)
                except ValueError:
                    log.warning("Unreadable session data; starting a new session")
                else:
                    session.expiry, session.stored_sid = row.expiry, sid
                    return session
            if row is not None:
                self._delete_session(sid)
        return self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)

    def written_ago(self, app: Flask, session: ServerSideSession) -> float | None:
        stored = getattr(session, "expiry", None)
        if stored is None:
            return None
        return (utcnow() + _lifetime(app, session) - stored).total_seconds()

    def _retrieve_session_data(self, store_id: str) -> dict | None:  # unused: open_session reads the row itself
        raise NotImplementedError

    def _delete_session(self, store_id: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(self.table).where(self.table.c.session_id == store_id))

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        values = {"data": self.serializer.encode(session), "expiry": utcnow() + _lifetime(self.app, session)}
        with db.engine.begin() as conn:
            if self.was_stored(session):  # only if still there
                conn.execute(sa.update(self.table).where(self.table.c.session_id == store_id).values(values))
            else:
                conn.execute(sa.insert(self.table).values(session_id=store_id, **values))

    def _delete_expired_sessions(self) -> int:
        with db.engine.begin() as conn:
            return conn.execute(sa.delete(self.table).where(self.table.c.expiry <= utcnow())).rowcount


def session_store(app: Flask) -> ServerSideSessionInterface:
    """Redis when CMS_REDIS_URL is set, otherwise the database."""
    config = app.config
    options = {
        "permanent": config["SESSION_PERMANENT"],
        "sid_length": config["SESSION_ID_LENGTH"],
    }
    if config.get("REDIS_URL"):
        return RedisSessions(app, outages.redis_client(config), key_prefix=config["SESSION_KEY_PREFIX"], **options)
    return DatabaseSessions(app, cleanup_n_requests=config["SESSION_CLEANUP_N_REQUESTS"], **options)


def renew_at_sign_in(sender, user, **extra) -> None:
    """A signed-in session gets a new id and a new CSRF secret: an id or a token someone planted or saw before the
    sign-in carries nothing. "Remember me" keeps this session's cookie past the browser's closing instead of
    issuing Flask-Login's remember cookie, so signing out ends it like any other session."""
    interface = current_app.session_interface
    if not isinstance(interface, Revocable):
        return
    current = session._get_current_object()  # type: ignore[attr-defined]
    interface.regenerate(current)
    csrf_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    current.pop(csrf_field, None)
    g.pop(csrf_field, None)
    if current.get("_remember") == "set":
        del current["_remember"]
        current.pop("_remember_seconds", None)
        current.permanent = True


def end_at_sign_out(sender, user, **extra) -> None:
    """Sign-out deletes this session from the store; the browser gets a new, empty one. Other devices keep theirs."""
    interface = current_app.session_interface
    if not isinstance(interface, Revocable):
        return
    current = session._get_current_object()  # type: ignore[attr-defined]
    kept = {key: current[key] for key in SIGN_OUT_INSTRUCTIONS if key in current}
    if not current_app.config.get("SECURITY_CSRF_COOKIE_NAME"):
        kept.pop("fs_cc", None)  # no CSRF cookie to delete
    interface.regenerate(current)
    current.clear()
    current.permanent = False
    current.update(kept)


def _changed(user: User, key: str) -> bool:
    history = sa.inspect(user).attrs[key].history
    if not history.has_changes():
        return False
    return not (history.deleted and history.added and history.deleted[0] == history.added[0])


def rotate_uniquifiers(orm_session: Session, flush_context, instances) -> None:
    """A new password, a new address or a change of the active flag gives the account a new fs_uniquifier, which
    every session, remember cookie, reset link and invitation of it names: all of them end, whichever path made the
    change (Flask-Security's /change and reset rotate it themselves; the console and moderation do not). A reset
    link mailed to an address an administrator then replaced kept working. Whoever set their own new password or
    address while signed in keeps this session, under a new id, as after /change. A reactivated account does not
    get its old sessions back. (An inactive account is refused by Flask-Security's user loader anyway, however it
    was deactivated.)"""
    for user in orm_session.dirty:
        if not isinstance(user, User) or _changed(user, "fs_uniquifier"):
            continue
        new_password = _changed(user, "password")
        new_address = _changed(user, "email")
        if not (new_password or new_address or _changed(user, "active")):
            continue
        old = user.fs_uniquifier
        user.fs_uniquifier = uuid.uuid4().hex
        if (new_password or new_address) and user.active and has_request_context() and session.get("_user_id") == old:
            session["_user_id"] = user.fs_uniquifier
            interface = current_app.session_interface
            if isinstance(interface, Revocable):
                interface.regenerate(session._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.session_interface = session_store(app)
    user_logged_in.connect(renew_at_sign_in)
    user_logged_out.connect(end_at_sign_out)
    if not sa.event.contains(Session, "before_flush", rotate_uniquifiers):
        sa.event.listen(Session, "before_flush", rotate_uniquifiers)
