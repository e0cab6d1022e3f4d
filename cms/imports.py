"""Bulk account import from a spreadsheet: a dry run that reports every row, then all or nothing."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import current_app
from flask_security import hash_password
from sqlalchemy import func, select

from cms import audit, previews
from cms.accounts import password_problems
from cms.domain import DomainError
from cms.extensions import db, security
from cms.invitations import send_invitation
from cms.locale import supported_locales
from cms.models import Role, User
from cms.permissions import DEFAULT_ROLES

COLUMNS = ("email", "username", "name", "roles", "locale", "password")
MAX_ROWS = 10_000
USERNAME = re.compile(r"^[a-z0-9_.-]{3,64}$")
TEMPLATE_ROWS = [
    list(COLUMNS),
    ["ann.editor@example.com", "ann", "Ann Editor", "Editor", "en", ""],
    ["li.reader@example.com", "lireader", "李读者", "Reader", "zh", ""],
    ["moderator.two@example.com", "", "", "Moderator; Translator", "es", ""],
]


class AccountImportError(DomainError):
    """The import cannot go ahead; the message says why."""


@dataclass
class ImportRow:
    line: int  # the spreadsheet's row number (the header is row 1)
    email: str = ""
    username: str = ""
    name: str = ""
    roles: list[str] = field(default_factory=list)
    locale: str = ""
    password: str = ""
    errors: list[str] = field(default_factory=list)


def _cell(record: dict, key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


def read_rows(records: list[dict], max_rows: int = MAX_ROWS) -> list[ImportRow]:
    """Turn spreadsheet records (header → value) into rows, checking the header first; a file of more than
    `max_rows` rows is refused whole."""
    if not records:
        raise AccountImportError("The file has no rows under its header.")
    if len(records) > max_rows:
        raise AccountImportError(f"The file has {len(records):,} rows; import at most {max_rows:,} at a time.")
    normalised = [{str(k).strip().lower(): v for k, v in record.items()} for record in records]
    if "email" not in normalised[0]:
        raise AccountImportError(f"The first row must be the header: {', '.join(COLUMNS)} (email is required).")
    rows = []
    for number, record in enumerate(normalised, start=2):
        if not any(_cell(record, key) for key in COLUMNS):
            continue  # a blank line
        roles = [r.strip() for r in re.split(r"[;,]", _cell(record, "roles")) if r.strip()] or ["Reader"]
        rows.append(
            ImportRow(
                line=number,
                email=_cell(record, "email"),
                username=_cell(record, "username").lower(),
                name=_cell(record, "name"),
                roles=roles,
                locale=_cell(record, "locale").lower(),
                password=_cell(record, "password"),
            )
        )
    return rows


def validate(rows: list[ImportRow]) -> list[ImportRow]:
    """Record every problem on its row: invalid or duplicate email or username, unknown role or language."""
    role_names = {name.lower(): name for name in db.session.scalars(select(Role.name))} or {
        n.lower(): n for n in DEFAULT_ROLES
    }
    locales = supported_locales()
    for row in rows:
        row.errors = []
        try:
            row.email = security._mail_util.validate(row.email).lower()
        except ValueError as exc:
            row.errors.append(f"invalid email address {row.email!r} ({exc})" if row.email else "email is missing")
        if not row.username and row.email and "@" in row.email:
            row.username = re.sub(r"[^a-z0-9_.-]", "", row.email.split("@", 1)[0].lower())[:64]
        if not USERNAME.match(row.username or ""):
            row.errors.append(f"username {row.username!r} must be 3–64 letters, digits, '.', '_' or '-'")
        unknown = [r for r in row.roles if r.lower() not in role_names]
        if unknown:
            row.errors.append(f"unknown role {', '.join(unknown)}")
        row.roles = [role_names[r.lower()] for r in row.roles if r.lower() in role_names]
        if row.locale and row.locale not in locales:
            row.errors.append(f"unknown language {row.locale!r} (use {', '.join(locales)})")
        if row.password:
            problems, _ = password_problems(row.password, email=row.email, username=row.username, name=row.name)
            row.errors.extend(f"password: {problem}" for problem in problems)
        if len(row.name) > 64:
            row.errors.append("name longer than 64 characters")
    _duplicates(rows, "email", User.email)
    _duplicates(rows, "username", User.username)
    return rows


def _duplicates(rows: list[ImportRow], key: str, column) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        value = getattr(row, key)
        if not value:
            continue
        if value in first_line:
            row.errors.append(f"{key} {value} is also on row {first_line[value]}")
        else:
            first_line[value] = row.line
    values = list(first_line)
    taken: set[str] = set()
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        taken.update(v.lower() for v in db.session.scalars(select(column).where(func.lower(column).in_(chunk))))
    for row in rows:
        if getattr(row, key) in taken:
            row.errors.append(f"{key} {getattr(row, key)} already has an account")


def apply(rows: list[ImportRow], acting_user: User) -> list[User]:
    """Create every account, each with its invitation in the outbox, in one transaction, or none: a worker sends
    the invitations afterwards (the request sends nothing), and the invitee chooses a password and is confirmed."""
    validate(rows)
    bad = [row for row in rows if row.errors]
    if bad:
        first = bad[0]
        raise AccountImportError(
            f"Nothing was imported: {len(bad)} row(s) have errors (row {first.line}: {first.errors[0]})."
        )
    roles = {role.name: role for role in db.session.scalars(select(Role))}
    created: list[User] = []
    try:
        for row in rows:
            user: User = security.datastore.create_user(  # type: ignore[assignment]
                email=row.email,
                username=row.username,
                name=row.name or None,
                locale=row.locale or None,
                password=hash_password(security.password_util.normalize(row.password)) if row.password else None,
                roles=[roles[name] for name in row.roles],
            )
            created.append(user)
        db.session.flush()  # every account gets its uniquifier, which its invitation link names
        for user in created:
            send_invitation(user)
        audit.record("import", "User", summary=f"{len(created)} accounts imported")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return created


# -- the dry run's rows, kept between the preview and "apply" -----------------------------------------
def keep_pending(rows: list[ImportRow], user: User) -> str:
    return previews.keep(Path(current_app.config["IMPORTS_DIR"]), "", user.id, [asdict(row) for row in rows])


def take_pending(token: str, user: User) -> list[ImportRow]:
    try:
        rows = previews.take(Path(current_app.config["IMPORTS_DIR"]), "", token, user.id)
    except previews.PreviewGone:
        raise AccountImportError("This import is unknown or has expired; upload the file again.") from None
    except previews.PreviewForeign:
        raise AccountImportError("This import was prepared by someone else.") from None
    return [ImportRow(**row) for row in rows]
