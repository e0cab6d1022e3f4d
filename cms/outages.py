"""When MariaDB, Redis or the disk fails: which errors are outages (a 503, not a 500), the pool told which of
MariaDB's errors mean a dead connection, and a shared cache that carries on without Redis."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_caching.backends.rediscache import RedisCache
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

log = logging.getLogger("cms.outages")

RETRY_AFTER = 30  # seconds: the Retry-After of every 503 an outage gives

# MariaDB's codes for "this connection is gone" that SQLAlchemy's dialect does not know (it knows 1927, 2006,
# 2013, 2014, 2045, 2055, 4031): with them the pool drops the connection, and every older one, at once.
SERVER_GONE = frozenset({1053, 2002, 2003, 2005})  # shutdown in progress; cannot connect (socket, TCP, host)
# The server answers but takes no one more: an outage for the reader as well.
SERVER_FULL = frozenset({1040, 1203})  # too many connections; a user's max_user_connections

# The exception types an outage surfaces as; `is_outage` decides for each instance.
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool's: every connection busy for pool_timeout seconds
    RedisConnectionError,
    RedisTimeoutError,
)

# How writing a file fails when the disk is full (or over quota), and when its folder refuses to be written to.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
FOLDER_REFUSED = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ENOENT, errno.EISDIR, errno.EEXIST, errno.EIO}
)


def _code(error: BaseException | None) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_outage(error: BaseException | None) -> bool:
    """Whether `error` means the database or Redis is not answering (down, restarting, unreachable, full)
    rather than a fault in the request or the code."""
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or _code(error.orig) in SERVER_GONE | SERVER_FULL:
            return True
        # SQLite: another process holds the write lock past the busy timeout.
        return type(error.orig).__module__.startswith("sqlite3") and "database is locked" in str(error.orig)
    return False


def _mark_dead_connections(context: Any) -> None:
    """SQLAlchemy's handle_error hook: a connection that met one of SERVER_GONE is treated as disconnected, so
    the pool discards it with the connections made before it instead of handing them out again."""
    if context.dialect.name == "mysql" and _code(context.original_exception) in SERVER_GONE:
        context.is_disconnect = True


def listen() -> None:
    if not sa.event.contains(Engine, "handle_error", _mark_dead_connections):
        sa.event.listen(Engine, "handle_error", _mark_dead_connections)


def disk_problem(error: BaseException | None) -> str | None:
    """Why writing a file failed, when the disk is to blame: "full" (no space or quota left), "refused" (the
    folder is read-only, missing, not a folder, or not ours), or None for any other error."""
    while error is not None and not isinstance(error, OSError):  # xlsxwriter wraps the OSError in its own
        error = error.args[0] if error.args and isinstance(error.args[0], BaseException) else error.__cause__
    if isinstance(error, OSError):
        if error.errno in DISK_FULL:
            return "full"
        if error.errno in FOLDER_REFUSED:
            return "refused"
    return None


def redis_client(config: Mapping[str, Any]) -> Redis:
    """A client for CMS_REDIS_URL that waits at most REDIS_TIMEOUT seconds to connect and for each answer: every
    Redis client the app makes (sessions, the export queue, `flask cms worker`) comes from here, so a Redis that
    hangs holds a request up for that long, never for ever. (RQ's worker lengthens the answer timeout of its own
    connection to outlast its blocking dequeue.)"""
    timeout = float(config.get("REDIS_TIMEOUT", 1.0))
    return Redis.from_url(config["REDIS_URL"], socket_connect_timeout=timeout, socket_timeout=timeout)


class TolerantRedisCache(RedisCache):
    """Flask-Caching's Redis backend (CACHE_TYPE when CMS_REDIS_URL is set), except that Redis not answering is a
    miss, not an error: pages are rendered instead of cached. After a failure this process leaves Redis alone for
    REDIS_RETRY_AFTER seconds, so a Redis that hangs costs one REDIS_TIMEOUT per interval, not one per call."""

    clock = staticmethod(time.monotonic)  # tests may set their own
    retry_after = 5.0

    @classmethod
    def factory(cls, app, config, args, kwargs):
        timeout = config.get("REDIS_TIMEOUT", 1.0)
        config.setdefault("CACHE_OPTIONS", {"socket_connect_timeout": timeout, "socket_timeout": timeout})
        cache = super().factory(app, config, args, kwargs)
        cache.retry_after = float(config.get("REDIS_RETRY_AFTER", cls.retry_after))
        return cache

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._down_until: float | None = None  # None while Redis answers
        self._lock = threading.Lock()

    def _call(self, default, method, *args, **kwargs):
        with self._lock:
            down_until = self._down_until
        if down_until is not None and self.clock() < down_until:
            return default
        try:
            result = method(*args, **kwargs)
        except RedisError as error:
            with self._lock:
                if self._down_until is None:
                    log.warning("Redis is not answering (%s): the shared cache is off for now", error)
                self._down_until = self.clock() + self.retry_after
            return default
        if down_until is not None:
            with self._lock:
                self._down_until = None
            log.warning("Redis answers again: the shared cache is back")
        return result

    def get(self, key):
        return self._call(None, super().get, key)

    def get_many(self, *keys):
        return self._call([None] * len(keys), super().get_many, *keys)

    def set(self, key, value, timeout=None):
        return self._call(False, super().set, key, value, timeout)

    def add(self, key, value, timeout=None):
        return self._call(False, super().add, key, value, timeout)

    def set_many(self, mapping, timeout=None):
        return self._call([], super().set_many, mapping, timeout)

    def delete(self, key):
        return self._call(False, super().delete, key)

    def delete_many(self, *keys):
        return self._call([], super().delete_many, *keys)

    def has(self, key):
        return self._call(False, super().has, key)

    def clear(self):
        return self._call(False, super().clear)

    def inc(self, key, delta=1):
        return self._call(None, super().inc, key, delta)

    def dec(self, key, delta=1):
        return self._call(None, super().dec, key, delta)
