"""Account rules: creating users, keeping roles up to date, and never locking the last admin out."""

import uuid

from flask_babel import lazy_gettext as _l
from flask_security import hash_password
from flask_security.signals import user_authenticated, user_registered
from sqlalchemy import func, select

from cms import audit
from cms.domain import DomainError
from cms.extensions import db, security
from cms.models import Role, User, utcnow
from cms.permissions import DEFAULT_ROLES, Perm, user_can

MIN_PASSWORD_LENGTH = 8


class AccountError(DomainError):
    """A request about accounts that the rules refuse; the message is shown to the user."""


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


def find_role(name: str) -> Role:
    role = db.session.scalar(select(Role).where(func.lower(Role.name) == name.strip().lower()))
    if role is None:
        raise AccountError(_l("Unknown role %(name)s.", name=repr(name)))
    return role


def create_user(
    email: str,
    password: str,
    roles: list[str],
    username: str | None = None,
    confirmed: bool = True,
    password_hash: str | None = None,
) -> User:
    """Create a user with the named roles; raises AccountError for bad or duplicate input."""
    mail_util = security._mail_util
    try:
        email = mail_util.validate(email)
    except ValueError as exc:
        raise AccountError(
            _l("Invalid email address %(email)s: %(reason)s", email=repr(email), reason=str(exc))
        ) from None
    email = email.lower()
    username = (username or email.split("@", 1)[0]).lower()
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(_l("A user with email %(email)s already exists.", email=email))
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(_l("The username %(username)s is taken.", username=username))
    if not password_hash and len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(_l("The password must be at least %(num)d characters long.", num=MIN_PASSWORD_LENGTH))
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


def prepare_account(acting_user: User, account: User, new_password: str | None, is_created: bool) -> None:
    """An administrator's edit of an account, before it is saved: the password (hashed, required for a new
    account), a fresh uniquifier for a new one, no empty language, and no lock-out of the acting admin."""
    if not account.locale:
        account.locale = None
    if new_password:
        account.password = hash_password(new_password)
    elif is_created:
        raise AccountError(_l("A new account needs a password."))
    if is_created:
        account.fs_uniquifier = uuid.uuid4().hex
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


def check_role_delete_keeps_admin(acting_user: User, role: Role) -> None:
    """Refuse deleting the last role through which the acting user holds ADMIN."""
    others = [r for r in acting_user.roles if r is not role]
    if role in acting_user.roles and not any((r.permissions or 0) & Perm.ADMIN for r in others):
        raise AccountError(_l("Deleting this role would remove your own administrator rights."))


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
