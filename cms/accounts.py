"""Account rules: creating users, the password rule, keeping roles up to date, never locking the last admin out,
and the temporary lock after repeated failed sign-ins."""

import math
import re
import unicodedata
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_security import SQLAlchemyUserDatastore, hash_password, url_for_security
from flask_security.signals import password_reset, user_authenticated, user_registered
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from cms import audit
from cms.domain import DomainError, is_blank
from cms.extensions import db, security
from cms.locale import mail_locale, supported_locales
from cms.mail import send_message
from cms.models import Role, User, utcnow
from cms.permissions import DEFAULT_ROLES, Perm, user_can
from cms.usernames import USERNAME_CHARACTERS, USERNAME_REFUSED


class AccountError(DomainError):
    """A request about accounts that the rules refuse; the message is shown to the user."""


class AccountStore(SQLAlchemyUserDatastore):
    """Flask-Security's datastore, with the statement that finds an account by one attribute built once.

    The signed-in account is found on every request (by its fs_uniquifier). Flask-Security built the statement,
    with the roles' joined load, anew each time, and SQLAlchemy worked out its cache key again: about 0.2 of the
    look-up's 1 ms. The statement here takes the value as a parameter and is kept per attribute, case rule and
    JOIN_USER_ROLES setting, so a look-up finds what Flask-Security's finds."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._finders: dict[tuple[str, bool, bool], sa.Select] = {}

    def find_user(self, case_insensitive: bool = False, **kwargs):
        if len(kwargs) != 1:
            return super().find_user(case_insensitive, **kwargs)
        ((attribute, value),) = kwargs.items()
        if case_insensitive and attribute in User.KEPT_LOWERCASE and isinstance(value, str):
            # Kept in its lower-case form: found as kept, by the column's index (lower() of the column read them all).
            value, case_insensitive = User.kept_form(attribute, value), False
        key = (attribute, case_insensitive, bool(current_app.config.get("SECURITY_JOIN_USER_ROLES", True)))
        if key not in self._finders:
            self._finders[key] = self._finder(*key)
        return self.db.session.scalar(self._finders[key], {"value": value})

    def _finder(self, attribute: str, case_insensitive: bool, join_roles: bool) -> sa.Select:
        column = getattr(self.user_model, attribute)
        value = sa.bindparam("value", type_=column.type)
        statement = select(self.user_model)
        if join_roles and hasattr(self.user_model, "roles"):
            statement = statement.options(joinedload(self.user_model.roles))  # type: ignore[arg-type]
        return statement.where(func.lower(column) == func.lower(value) if case_insensitive else column == value)


def ensure_default_roles() -> list[Role]:
    """Create the default roles or bring their permissions and descriptions up to date."""
    roles = []
    for name, (mask, description) in DEFAULT_ROLES.items():
        role = db.session.scalar(select(Role).where(Role.name == name))
        if role is None:
            role = Role(name=name)
            db.session.add(role)
        role.permissions = int(mask)
        role.description = description
        roles.append(role)
    db.session.commit()
    return roles


BLANK_USERNAME = _l("A username cannot be only spaces.")
USERNAME_LENGTH = 64  # User.username's column (Flask-Security's SECURITY_USERNAME_MAX_LENGTH too)
PATH_STEPS = (".", "..")
EMAIL_TAKEN = _l("Another account has this email address.")
USERNAME_TAKEN = _l("Another account has this username.")


def find_role(name: str) -> Role:
    role = db.session.scalar(select(Role).where(func.lower(Role.name) == name.strip().lower()))
    if role is None:
        raise AccountError(_l("Unknown role %(name)s.", name=repr(name)))
    return role


def check_username(username: str) -> None:
    """A new or changed username: USERNAME_CHARACTERS (it is part of the author's address, /authors/<username>),
    and what the column holds. The command line made `news/desk`, whose author page could not be reached."""
    if not USERNAME_CHARACTERS.fullmatch(username):
        raise AccountError(USERNAME_REFUSED)
    if len(username) > USERNAME_LENGTH:
        raise AccountError(_l("A username is at most %(num)d characters long.", num=USERNAME_LENGTH))
    # As kept (trimmed, folded: " .. " and a two-dot leader are ".."): an author page /en/authors/.. is what
    # browsers read as /en/, the folder above.
    if username in PATH_STEPS:
        raise AccountError(_l("A username cannot be “.” or “..”: in an address they mean the folder itself or above."))


def create_user(
    email: str,
    password: str,
    roles: list[str],
    username: str | None = None,
    confirmed: bool = True,
    password_hash: str | None = None,
) -> User:
    """Create a user with the named roles; raises AccountError for bad or duplicate input."""
    email = stored_email(email)
    # By default the address's local part, of the characters a username may hold (john+news: johnnews). Checked as
    # it will be kept (User.kept_form: a full-width ｒｅａｄｅｒ is reader, a ligature two or three letters), so a
    # taken one is refused here and its length is the kept one's.
    username = User.kept_form("username", username or re.sub(r"[^\w.-]", "", email.split("@", 1)[0])) or ""
    if is_blank(username):
        raise AccountError(BLANK_USERNAME)
    check_username(username)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(_l("A user with email %(email)s already exists.", email=email))
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(_l("The username %(username)s is taken.", username=username))
    if not password_hash:
        password = checked_password(password, email=email, username=username)
    role_rows = [find_role(name) for name in roles]
    user: User = security.datastore.create_user(  # type: ignore[assignment]
        email=email,
        username=username,
        password=password_hash or hash_password(password),
        roles=role_rows,
    )
    if confirmed:
        user.confirmed_at = utcnow()
    db.session.commit()
    return user


def password_problems(password: str, account: User | None = None, **known: str) -> tuple[list[str], str]:
    """What the password rule (cms.passwords, the one Flask-Security's forms apply) objects to in `password` (an
    empty list: it may be set), and the password normalised as it is to be hashed. A password may not resemble
    what is known of its account: the `account` (new or existing), or for a new one `known` (email, username)."""
    if account is not None:
        problems, normalized = security.password_util.validate(password or "", False, user=account)
    else:
        problems, normalized = security.password_util.validate(password or "", True, **known)
    return [str(problem) for problem in problems or []], normalized


def checked_password(password: str, account: User | None = None, **known: str) -> str:
    """The password normalised for hashing, or AccountError with the rule's objections."""
    problems, normalized = password_problems(password, account, **known)
    if problems:
        raise AccountError(" ".join(problems))
    return normalized


def check_unique(account: User) -> None:
    """No other account has its email address or username. The form's own check compares the text as typed, and
    the model lowercases it (EDITOR@example.com is editor@example.com): the database refused the copy, and the
    form showed the refused statement."""
    for column, taken in ((User.email, EMAIL_TAKEN), (User.username, USERNAME_TAKEN)):
        value = getattr(account, column.key)
        with db.session.no_autoflush:  # the account itself is not written before it is checked
            other = db.session.scalar(select(User.id).where(column == value, User.id != account.id).limit(1))
        if other is not None:
            raise AccountError(taken)


def email_as_stored(email: str | None) -> str:
    """The one normalisation of an address an account keeps (ValueError when it is not an address): Flask-Security's
    mail utility, as a sign-in looks it up, then lower case. The console, the CLI, imports and create_user all
    store through it."""
    return security._mail_util.validate(email or "").lower()


def stored_email(email: str) -> str:
    """An address as an account keeps it: normalised by Flask-Security's mail utility, as a sign-in looks it up (a
    full-width letter in the domain is the ASCII one), lower case; AccountError when it is not an address. Kept as
    typed, such an address could not sign in, and a second account with the ASCII spelling was allowed."""
    try:
        return email_as_stored(email)
    except ValueError as exc:
        raise AccountError(
            _l("Invalid email address %(email)s: %(reason)s", email=repr(email), reason=str(exc))
        ) from None


def check_languages(account: User) -> None:
    """The account's language and a translator's languages are site languages, or none. A console form let a
    language of only white space through (WTForms' Optional clears the choice's error): sign-in locks and
    invitations, written in the account's language, then failed."""
    known = supported_locales()
    account.locale = (account.locale or "").strip() or None
    chosen = [code for code in (code.strip() for code in (account.languages or "").split(",")) if code]
    if any(code not in known for code in [*chosen, *([account.locale] if account.locale else [])]):
        raise AccountError(_l("Choose languages of the site only: %(languages)s.", languages=", ".join(known)))
    account.languages = ",".join(chosen) or None


def prepare_account(acting_user: User, account: User, new_password: str | None, is_created: bool) -> None:
    """An administrator's edit of an account, before it is saved: a new or changed username of USERNAME_CHARACTERS,
    the address as a sign-in looks it up, languages of the site, their own new password (checked by the password
    rule, hashed), and no lock-out of the acting admin; a changed address is told to the old one. A new account
    gets a fresh uniquifier,
    no password and no confirmation: its invitation (in the outbox, committed with it) lets the invitee choose a
    password and confirms them. Nobody sets a password for someone else."""
    from cms.invitations import send_invitation  # it builds on this module's password rule

    if is_blank(account.username):
        raise AccountError(BLANK_USERNAME)
    renamed = is_created or sa.inspect(account).attrs.username.history.has_changes()
    if renamed:
        check_username(account.username)
    earlier = sa.inspect(account).attrs.email.history.deleted
    account.email = stored_email(account.email)
    check_unique(account)
    check_languages(account)
    if not is_created and earlier and earlier[0] and earlier[0] != account.email:
        send_address_change_notice(account, earlier[0])
        if account.password is None:  # an invitation not yet accepted: it goes to the new address, the old link ends
            account.fs_uniquifier = uuid.uuid4().hex
            send_invitation(account)
    if new_password:
        if is_created or account.id != acting_user.id:
            raise AccountError(_l("Only the account's owner sets its password; an invitation lets them choose it."))
        account.password = hash_password(checked_password(new_password, account))
    if is_created:
        account.fs_uniquifier = uuid.uuid4().hex
        account.password = None
        account.confirmed_at = None
        send_invitation(account)
    check_keeps_admin(acting_user, account)


def check_delete_account(acting_user: User, account: User) -> None:
    if account.id == acting_user.id:
        raise AccountError(_l("You cannot delete your own account."))


def check_keeps_admin(acting_user: User, changed_user: User) -> None:
    """Refuse a change that would take ADMIN away from the acting user (no lock-out)."""
    if acting_user.id == changed_user.id and (not changed_user.active or not user_can(changed_user, Perm.ADMIN)):
        raise AccountError(_l("You cannot remove your own administrator rights or deactivate yourself."))


def check_role_change_keeps_admin(acting_user: User) -> None:
    """After a role edit (flushed, not committed) the acting user must still hold ADMIN."""
    db.session.flush()
    db.session.expire(acting_user, ["roles"])
    if not user_can(acting_user, Perm.ADMIN):
        raise AccountError(_l("This change would remove your own administrator rights."))


ROLE_SEPARATORS = ",;"  # what separates the roles in an import's roles cell (cms.imports.read_rows)


def check_role(role: Role, is_created: bool) -> None:
    """A role's name: not blank, no other role's in another case (`editor` beside Editor took Editor's place in
    imports, which look roles up without regard to case), and the built-in roles keep theirs (registration gives
    new readers the role named Reader; renamed, sign-ups got no role at all)."""
    if is_blank(role.name):
        raise AccountError(_l("A role needs a name."))
    role.name = role.name.strip()
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in role.name):  # "Editor" and a zero-width space
        raise AccountError(_l("A role's name cannot hold invisible characters."))
    if any(c in ROLE_SEPARATORS for c in role.name):  # an import's roles cell lists roles with them
        raise AccountError(_l("A role's name cannot hold a comma or a semicolon."))
    earlier = sa.inspect(role).attrs.name.history.deleted
    if not is_created and earlier and earlier[0] in DEFAULT_ROLES and earlier[0] != role.name:
        raise AccountError(_l("The built-in role %(name)s keeps its name.", name=earlier[0]))
    with db.session.no_autoflush:
        same = select(Role.id).where(func.lower(Role.name) == role.name.lower())
        if role.id is not None:
            same = same.where(Role.id != role.id)
        if db.session.scalar(same.limit(1)) is not None:
            raise AccountError(_l("Another role has this name."))


def check_role_delete(acting_user: User, role: Role) -> None:
    """No deletion takes ADMIN from the acting user, and a built-in role stays (see check_role)."""
    check_role_delete_keeps_admin(acting_user, role)
    if role.name in DEFAULT_ROLES:
        raise AccountError(_l("The built-in role %(name)s cannot be deleted.", name=role.name))


def release_role(role: Role) -> None:
    """Take `role` from each account holding it, before the role goes: the database's cascade dropped the
    memberships unseen, and the audit log said nothing of the accounts whose roles changed. Each now has its
    entry, as an edit of its roles makes."""
    for user in list(role.users):
        user.roles.remove(role)


def check_role_delete_keeps_admin(acting_user: User, role: Role) -> None:
    """Refuse deleting the last role through which the acting user holds ADMIN."""
    others = [r for r in acting_user.roles if r is not role]
    if role in acting_user.roles and not any((r.permissions or 0) & Perm.ADMIN for r in others):
        raise AccountError(_l("Deleting this role would remove your own administrator rights."))


# -- the lock after repeated failed sign-ins (cms.throttle decides when to ask) ------------------------------
def seconds_locked(user: User) -> int:
    """How long the account stays locked (0: it is not)."""
    now = utcnow()
    if user.locked_until is None or user.locked_until <= now:
        return 0
    return math.ceil((user.locked_until - now).total_seconds())


def record_failed_sign_in(user: User) -> bool:
    """Count a wrong password or second-factor code. LOGIN_LOCKOUT_FAILURES of them within LOGIN_LOCKOUT_SECONDS of
    the first lock the account for LOGIN_LOCKOUT_SECONDS, audited, and mail its owner; returns whether this one
    locked it.

    Counted in SQL, not on the loaded row: concurrent requests (other workers, other instances) add up, and
    exactly one of them locks the account and sends the notice."""
    config = current_app.config
    now = utcnow()
    span = timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    new_count = sa.or_(User.failed_logins_since.is_(None), User.failed_logins_since <= now - span)
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        # In this order: MariaDB evaluates SET left to right, so the count must be decided before the start moves.
        .ordered_values(
            (User.failed_logins, sa.case((new_count, 1), else_=User.failed_logins + 1)),
            (User.failed_logins_since, sa.case((new_count, now), else_=User.failed_logins_since)),
        )
        .execution_options(synchronize_session=False)
    )
    locked = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.failed_logins >= config["LOGIN_LOCKOUT_FAILURES"])
        .values(failed_logins=0, failed_logins_since=None, locked_until=now + span)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount:  # type: ignore[attr-defined]
        audit.record("lock", "User", user.id, summary=user.email)
        send_lock_notice(user, now + span)  # in the outbox, committed with the lock
    db.session.commit()
    return bool(locked.rowcount)  # type: ignore[attr-defined]


def forget_failed_sign_ins(user: User) -> None:
    """A sign-in completed (the right password, and the right code where the account has a second factor): earlier
    failures are forgotten."""
    if user.failed_logins or user.failed_logins_since is not None:
        db.session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, failed_logins_since=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def unlock_account(user: User) -> bool:
    """End a lock and forget failed sign-ins (an administrator's action, or a password reset, which proves the
    owner holds the mailbox); audited when there was a lock. Returns whether there was one."""
    was_locked = seconds_locked(user) > 0
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, failed_logins_since=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if was_locked:
        audit.record("unlock", "User", user.id, summary=user.email)
    db.session.commit()
    return was_locked


def send_address_change_notice(user: User, old_email: str) -> None:
    """Tell the owner, at the address the account had, that an administrator gave it another: whoever holds the new
    one can reset the password (the mail goes to the outbox, committed with the change)."""
    with force_locale(mail_locale(user)):
        paragraphs = [
            _("Hello %(name)s,", name=user.display_name),
            _(
                "An administrator changed the email address of your Newsroom account %(username)s from %(old)s to "
                "%(new)s. Sign-in, password resets and mail now go to the new address.",
                username=user.username,
                old=old_email,
                new=user.email,
            ),
            _(
                "If you did not ask for this, tell the Newsroom's administrators at once: whoever holds the new "
                "address can choose a new password for your account."
            ),
        ]
        subject = _("The email address of your account was changed")
        send_message(subject, old_email, "\n\n".join(paragraphs) + "\n", kind="address-change")


def send_lock_notice(user: User, locked_until: datetime) -> None:
    """Tell the owner, in their language, that sign-in is locked, until when, and how to end it now (the mail
    goes to the outbox, to be committed with the lock)."""
    with force_locale(mail_locale(user)):
        until = locked_until.strftime("%Y-%m-%d %H:%M")
        paragraphs = [
            _("Hello %(name)s,", name=user.display_name),
            _(
                "There were %(num)d failed attempts to sign in to your account, so signing in to it is locked "
                "until %(time)s (UTC). Until then even the right password is refused.",
                num=current_app.config["LOGIN_LOCKOUT_FAILURES"],
                time=until,
            ),
            _("If that was you, wait until then, or choose a new password now; that also ends the lock:")
            + "\n"
            + url_for_security("forgot_password", _external=True),
            _(
                "If it was not you, someone may be trying to guess your password: choose a new one that you use "
                "nowhere else."
            ),
        ]
        subject = _("Sign-in to your account is locked for now")
        send_message(subject, user.email, "\n\n".join(paragraphs) + "\n", kind="lockout")


def unlock_after_reset(sender, user: User, **extra) -> None:
    unlock_account(user)


def give_reader_role(sender, user: User, **extra) -> None:
    """New self-registered users start as Readers."""
    reader = db.session.scalar(select(Role).where(Role.name == "Reader"))
    if reader is not None and reader not in user.roles:
        user.roles.append(reader)


def audit_login(sender, user: User, **extra) -> None:
    """Sign-ins go to the audit log; Flask-Security commits them with the login."""
    audit.record("login", "User", user.id, summary=user.email)


def connect_signals() -> None:
    user_registered.connect(give_reader_role)
    user_authenticated.connect(audit_login)
    password_reset.connect(unlock_after_reset)
