"""The audit log: every create, change and delete of audited rows, plus explicit entries for bulk actions,
logins and exports, written in the same transaction as the change."""

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Session

from cms.extensions import db
from cms.models import AuditLog, Comment, Media, Post, PostStatus, PostTranslation, Role, User

AUDITED = (Post, PostTranslation, User, Role, Comment, Media)
# Values never written to the log; a change shows only that it happened.
SECRET_FIELDS = {"password", "fs_uniquifier", "tf_totp_secret", "mf_recovery_codes"}
# Bookkeeping columns whose changes would only add noise.
IGNORED_FIELDS = {
    "updated_at", "version", "last_seen", "content_changed_at", "body_html", "source_title", "source_body",
}  # fmt: skip
RELATIONSHIPS = {User: ("roles",)}
# The longest text a change logs of a value, then how long it was: a post's body of 90,000 characters made the
# entry overflow MariaDB's TEXT column, and the save was a 500. The revision history keeps whole texts.
AUDIT_TEXT_CHARS = 2_000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return sorted(str(v) for v in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _logged(value: Any) -> Any:
    """A value as the log keeps it: plain, and a text cut at AUDIT_TEXT_CHARS with its length said."""
    value = _plain(value)
    if isinstance(value, str) and len(value) > AUDIT_TEXT_CHARS:
        return f"{value[:AUDIT_TEXT_CHARS]}… ({len(value):,} characters)"
    return value


def _actor() -> tuple[int | None, str | None]:
    if not has_request_context():
        return None, None
    user_id = current_user.id if current_user and current_user.is_authenticated else None
    return user_id, request.remote_addr


def _object_id(obj) -> str:
    """The row's key. A row inserted by this flush has no identity yet when the entries are collected (after the
    flush, before SQLAlchemy finishes it), but its key columns hold what the INSERT gave them."""
    state = sa.inspect(obj)
    identity = state.identity or state.mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in identity) if identity and None not in identity else ""


def _changes(obj, created: bool) -> dict[str, list[Any]]:
    state = sa.inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in IGNORED_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if not created and before == after:
            continue
        if attr.key in SECRET_FIELDS:
            changes[attr.key] = ["…", "(changed)"]
        else:
            changes[attr.key] = [None if created else _logged(before), _logged(after)]
    for key in RELATIONSHIPS.get(type(obj), ()):
        history = state.attrs[key].history
        if history.added or history.deleted:
            unchanged = [str(v) for v in history.unchanged]
            changes[key] = [
                sorted(unchanged + [str(v) for v in history.deleted]),
                sorted(unchanged + [str(v) for v in history.added]),
            ]
    return changes


def _action_for(obj, changes: dict) -> str:
    if isinstance(obj, Post) and "status" in changes:
        new_status = changes["status"][1]
        return {PostStatus.PUBLISHED: "publish", PostStatus.ARCHIVED: "archive"}.get(new_status, "update")
    return "update"


def entry(action: str, object_type: str, object_id: str | None, summary: str = "", changes=None) -> AuditLog:
    user_id, ip = _actor()
    return AuditLog(
        user_id=user_id,
        ip=ip,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:255],
        changes=json.dumps(changes, ensure_ascii=False, default=str) if changes else None,
    )


def record(action: str, object_type: str, object_id=None, summary: str = "", changes=None) -> None:
    """Add an explicit entry (bulk action, login, export) to the current transaction."""
    db.session.add(entry(action, object_type, None if object_id is None else str(object_id), summary, changes))


def record_many(action: str, object_type: str, items: Iterable[tuple[Any, str, dict | None]]) -> None:
    """One entry per (object id, summary, changes) of a change written with a multi-row INSERT, which the ORM's flush
    hooks never see (an account import), in the current transaction: the entries `record` would add one by one."""
    db.session.add_all(
        entry(action, object_type, str(object_id), summary, changes) for object_id, summary, changes in items
    )


def _collect(session: Session, flush_context) -> None:
    pending = session.info.setdefault("audit_pending", [])
    for obj in session.new:
        if isinstance(obj, AUDITED):
            pending.append(entry("create", type(obj).__name__, _object_id(obj), str(obj)[:255], _changes(obj, True)))
    for obj in session.dirty:
        if isinstance(obj, AUDITED) and session.is_modified(obj):
            changes = _changes(obj, False)
            if changes:
                pending.append(entry(_action_for(obj, changes), type(obj).__name__, _object_id(obj), str(obj), changes))
    for obj in session.deleted:
        if isinstance(obj, AUDITED):
            pending.append(entry("delete", type(obj).__name__, _object_id(obj), str(obj)[:255]))


def _write(session: Session, flush_context) -> None:
    # Added after the flush, they are flushed by the commit's next round, inside the same transaction.
    pending = session.info.pop("audit_pending", [])
    if pending:
        session.add_all(pending)


def listen() -> None:
    """Attach the audit hooks to every ORM session (once)."""
    if not sa.event.contains(Session, "after_flush", _collect):
        sa.event.listen(Session, "after_flush", _collect)
        sa.event.listen(Session, "after_flush_postexec", _write)
