"""Bulk account import from a spreadsheet: a dry run that reports every row, then all or nothing."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from cms import audit, previews
from cms.accounts import email_as_stored
from cms.domain import DomainError, has_control_characters
from cms.extensions import db
from cms.invitations import invite_accounts
from cms.locale import supported_locales
from cms.models import Role, User, roles_users, utcnow
from cms.permissions import DEFAULT_ROLES

COLUMNS = ("email", "username", "name", "roles", "locale")
# Passwords are not imported: each account is invited to choose its own (cms.invitations). A column of them in an
# older file is read only to refuse its rows.
PASSWORD_COLUMN = "password"  # noqa: S105 - a column name
MAX_ROWS = 10_000
# The most of a sheet an import reads: rows (the header, MAX_ROWS people and as many blank lines) and columns. A
# sheet whose cells reach further is refused before it is read: a 5 KB workbook with one cell at A200000 made
# the reader build 200,000 rows (7 s; 20 s and 1.5 GB with the cell at AX100000).
SHEET_ROWS = 2 * MAX_ROWS + 1
SHEET_COLUMNS = 26
# How pyexcel reads an upload: cells as typed (it read the username 1e3 as 1000.0 and 12.50 as 12.5); an xlsx's
# every row and column, hidden or not (a hidden row was neither imported nor reported, and shifted the row numbers
# of the errors after it), in openpyxl's read-only mode, within the sheet's bounds. (A csv is bounded by the
# upload's size.)
READ_OPTIONS = {"auto_detect_int": False, "auto_detect_float": False, "auto_detect_datetime": False}
XLSX_READ_OPTIONS = {"skip_hidden_row_and_column": False, "row_limit": SHEET_ROWS, "column_limit": SHEET_COLUMNS}
USERNAME = re.compile(r"^[a-z0-9_.-]{3,64}$")
TEMPLATE_ROWS = [
    list(COLUMNS),
    ["ann.editor@example.com", "ann", "Ann Editor", "Editor", "en"],
    ["li.reader@example.com", "lireader", "李读者", "Reader", "zh"],
    ["moderator.two@example.com", "", "", "Moderator; Translator", "es"],
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
    password: str = ""  # only to refuse the row: passwords are not imported
    errors: list[str] = field(default_factory=list)


def _cell(record: dict, key: str) -> str:
    value = record.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's number cell: 1000, not "1000.0"
    return "" if value is None else str(value).strip()


def check_sheet_size(data: bytes) -> None:
    """Refuse an xlsx whose first sheet says its cells reach past SHEET_ROWS or SHEET_COLUMNS (its dimension, read
    without reading the cells); a sheet that says nothing is read within READ_OPTIONS' limits."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # not a workbook: the reader's own error says so
        return
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        rows, columns = (sheet.max_row, sheet.max_column) if sheet is not None else (None, None)
        merged = merged_range(sheet) if sheet is not None else None
    finally:
        book.close()
    if merged:
        raise AccountImportError(
            _l(
                "The sheet has merged cells (%(cells)s): unmerge them, so that each row holds its own values.",
                cells=merged,
            )
        )
    if (rows or 0) > SHEET_ROWS or (columns or 0) > SHEET_COLUMNS:
        raise AccountImportError(
            _l(
                "The sheet's cells reach %(cell)s, past what an import reads (%(rows)s rows and columns A to %(last)s)."
                " Delete the rows and columns past your data.",
                cell=f"{get_column_letter(columns or 1)}{rows or 1}",
                rows=format(SHEET_ROWS, ","),
                last=get_column_letter(SHEET_COLUMNS),
            )
        )


MERGED_CELLS = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def merged_range(sheet) -> str | None:
    """The first merged range of a read-only sheet, from its XML read in pieces (openpyxl's read-only mode does not
    read merges, and pyexcel reads a merged cell's value into its first row only: "Editor" over D2:D3 made row 3 a
    Reader, without a word). None when it has none, or when openpyxl no longer offers the sheet's source."""
    source = getattr(sheet, "_get_source", None)
    if source is None:
        return None
    with source() as xml:
        tail = b""
        while chunk := xml.read(1 << 16):
            found = MERGED_CELLS.search(tail + chunk)
            if found:
                return found.group(1).decode()
            tail = chunk[-256:]
    return None


def _check_header_shape(records: list[dict]) -> None:
    """pyexcel names a header's repeated column "email-1", and cells past the header's last column "" then "-1",
    "-2": refused as what they are, where the import called them unknown columns "email-1" and "-1"."""
    names = list(records[0])
    for name in names:
        base, dash, number = name.rpartition("-")
        if not dash or not number.isdigit() or base not in names:
            continue
        if base:
            raise AccountImportError(_l("The column %(name)s appears twice in the header.", name=base))
    unnamed = [name for name in names if name == "" or (name.startswith("-") and name[1:].isdigit())]
    if any(_cell(record, name) for record in records for name in unnamed):
        raise AccountImportError(
            _l("Some rows have cells past the header's columns: give each column its name in the first row.")
        )


def read_rows(records: list[dict], max_rows: int = MAX_ROWS) -> list[ImportRow]:
    """Turn spreadsheet records (header → value) into rows, checking the header first; a file of more than
    `max_rows` rows is refused whole."""
    if not records:
        raise AccountImportError(_l("The file has no rows under its header."))
    # A BOM (Excel's "CSV UTF-8") reaches the first column's name; a header cell may be a number.
    normalised = [{str(k).lstrip("\ufeff").strip().lower(): v for k, v in record.items()} for record in records]
    if "email" not in normalised[0]:
        raise AccountImportError(
            _l("The first row must be the header: %(columns)s (email is required).", columns=", ".join(COLUMNS))
        )
    _check_header_shape(normalised)
    # A misspelled column ("role") was ignored: an intended Administrator became a Reader without a word.
    unknown = [name for name in normalised[0] if name and name not in (*COLUMNS, PASSWORD_COLUMN)]
    if unknown:
        raise AccountImportError(
            _l(
                "Unknown column(s): %(unknown)s. The header's columns are %(columns)s.",
                unknown=", ".join(unknown),
                columns=", ".join(COLUMNS),
            )
        )
    # Blank lines (a column formatted down the sheet, a CSV's trailing commas) are no rows, nor count towards the limit.
    filled = [
        (number, record)
        for number, record in enumerate(normalised, start=2)
        if any(_cell(record, key) for key in (*COLUMNS, PASSWORD_COLUMN))
    ]
    if not filled:
        raise AccountImportError(_l("The file has no rows under its header."))
    if len(filled) > max_rows:
        raise AccountImportError(
            _l(
                "The file has %(rows)s rows; import at most %(most)s at a time.",
                rows=format(len(filled), ","),
                most=format(max_rows, ","),
            )
        )
    rows = []
    for number, record in filled:
        named = [r.strip() for r in re.split(r"[;,]", _cell(record, "roles")) if r.strip()]
        # A role named twice ("Editor; editor") is held once: two links of the same role failed the whole import.
        roles = list({name.casefold(): name for name in reversed(named)}.values())[::-1] or ["Reader"]
        rows.append(
            ImportRow(
                line=number,
                email=_cell(record, "email"),
                username=_cell(record, "username").lower(),
                name=_cell(record, "name"),
                roles=roles,
                locale=_cell(record, "locale").lower(),
                password=_cell(record, PASSWORD_COLUMN),
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
            row.email = email_as_stored(row.email)
        except ValueError as exc:
            row.errors.append(
                _("invalid email address %(email)s (%(reason)s)", email=repr(row.email), reason=exc)
                if row.email
                else _("email is missing")
            )
        if not row.username and row.email and "@" in row.email:
            row.username = re.sub(r"[^a-z0-9_.-]", "", row.email.split("@", 1)[0].lower())[:64]
        if not USERNAME.match(row.username or ""):
            row.errors.append(
                _("username %(username)s must be 3–64 letters, digits, '.', '_' or '-'", username=repr(row.username))
            )
        unknown = [r for r in row.roles if r.lower() not in role_names]
        if unknown:
            row.errors.append(_("unknown role %(roles)s", roles=", ".join(unknown)))
        row.roles = [role_names[r.lower()] for r in row.roles if r.lower() in role_names]
        if row.locale and row.locale not in locales:
            row.errors.append(
                _("unknown language %(locale)s (use %(locales)s)", locale=repr(row.locale), locales=", ".join(locales))
            )
        if row.password:
            row.errors.append(
                _("passwords are not imported: leave the column empty, each account is invited to choose its own")
            )
        if len(row.name) > 64:
            row.errors.append(_("name longer than 64 characters"))
        if has_control_characters(row.name):  # as the console's account form refuses it (OneLine)
            row.errors.append(_("a name is one line of letters, digits, spaces and punctuation"))
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
            row.errors.append(
                _("%(column)s %(value)s is also on row %(line)d", column=key, value=value, line=first_line[value])
            )
        else:
            first_line[value] = row.line
    values = list(first_line)
    taken: set[str] = set()
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        taken.update(v.lower() for v in db.session.scalars(select(column).where(func.lower(column).in_(chunk))))
    for row in rows:
        if getattr(row, key) in taken:
            row.errors.append(_("%(column)s %(value)s already has an account", column=key, value=getattr(row, key)))


def apply(rows: list[ImportRow], acting_user: User) -> int:
    """Create every account, each with its invitation in the outbox, in one transaction, or none; how many. A
    worker sends the invitations afterwards (the request sends nothing); the invitee chooses a password and is
    confirmed. Accounts, roles and mails go in one INSERT each: a file of MAX_ROWS returns within seconds."""
    validate(rows)
    bad = [row for row in rows if row.errors]
    if bad:
        first = bad[0]
        raise AccountImportError(
            _l(
                "Nothing was imported: %(count)d row(s) have errors (row %(line)d: %(error)s).",
                count=len(bad),
                line=first.line,
                error=first.errors[0],
            )
        )
    roles = {role.name: role.id for role in db.session.scalars(select(Role))}
    now = utcnow()
    accounts = [
        User(email=row.email, username=row.username, name=row.name or None, locale=row.locale or None,
             password=None, active=True, fs_uniquifier=uuid.uuid4().hex, member_since=now, failed_logins=0)
        for row in rows
    ]  # fmt: skip
    try:
        ids = db.session.scalars(
            sa.insert(User).returning(User.id, sort_by_parameter_order=True),
            [{column: getattr(user, column) for column in IMPORTED_COLUMNS} for user in accounts],
        ).all()
        links = [{"user_id": user_id, "role_id": roles[name]} for user_id, row in zip(ids, rows, strict=True)
                 for name in row.roles]  # fmt: skip
        if links:
            db.session.execute(sa.insert(roles_users), links)
        invite_accounts(accounts)
        # Each account's own history starts with its creation, as for one made in the console; then the import.
        created = zip(ids, accounts, rows, strict=True)
        audit.record_many("create", "User", [(i, str(user), _created(user, row)) for i, user, row in created])
        audit.record("import", "User", summary=f"{len(accounts)} accounts imported")
        db.session.commit()
    except sa.exc.IntegrityError:  # an account of the file made meanwhile (another import, the console)
        db.session.rollback()
        raise AccountImportError(
            _l("Some of these accounts were created meanwhile; nothing was imported. Upload the file again.")
        ) from None
    except Exception:
        db.session.rollback()
        raise
    return len(accounts)


def _created(user: User, row: ImportRow) -> dict[str, list]:
    """An imported account's audit changes, as the log writes a created row's: each value from nothing."""
    values = {"email": user.email, "username": user.username, "name": user.name, "locale": user.locale}
    changes: dict[str, list] = {key: [None, value] for key, value in values.items() if value is not None}
    changes["roles"] = [[], sorted(row.roles)]
    return changes


IMPORTED_COLUMNS = ("email", "username", "name", "locale", "password", "active", "fs_uniquifier", "member_since",
                    "failed_logins")  # fmt: skip


# -- the dry run's rows, kept between the preview and "apply" -----------------------------------------
def keep_pending(rows: list[ImportRow], user: User) -> str:
    config = current_app.config
    payload = [asdict(row) for row in rows]
    return previews.keep(Path(config["IMPORTS_DIR"]), "", user.id, payload, config["IMPORT_PREVIEW_LIFETIME"])


def take_pending(token: str, user: User) -> list[ImportRow]:
    try:
        config = current_app.config
        rows = previews.take(Path(config["IMPORTS_DIR"]), "", token, user.id, config["IMPORT_PREVIEW_LIFETIME"])
    except previews.PreviewGone:
        raise AccountImportError(_l("This import is unknown or has expired; upload the file again.")) from None
    except previews.PreviewForeign:
        raise AccountImportError(_l("This import was prepared by someone else.")) from None
    return [ImportRow(**row) for row in rows]
