"""Account rules: creating users, keeping roles up to date, and never locking the last admin out."""

from flask_security import hash_password
from flask_security.signals import user_authenticated, user_registered
from sqlalchemy import func, select

from cms import audit
from cms.extensions import db, security
from cms.models import Role, User, utcnow
from cms.permissions import DEFAULT_ROLES, Perm, user_can


class AccountError(ValueError):
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
        raise AccountError(f"Unknown role {name!r}.")
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
        raise AccountError(f"Invalid email address {email!r}: {exc}") from None
    email = email.lower()
    username = (username or email.split("@", 1)[0]).lower()
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(f"A user with email {email} already exists.")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(f"The username {username} is taken.")
    if not password_hash and len(password or "") < 8:
        raise AccountError("The password must be at least 8 characters long.")
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


def admin_count(exclude_user_id: int | None = None) -> int:
    """How many active users hold ADMIN through any role."""
    query = (
        select(func.count(func.distinct(User.id)))
        .join(User.roles)
        .where(User.active.is_(True), Role.permissions.op("&")(int(Perm.ADMIN)) != 0)
    )
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    return db.session.scalar(query) or 0


def check_keeps_admin(acting_user: User, changed_user: User) -> None:
    """Refuse a change that would take ADMIN away from the acting user (no lock-out)."""
    if acting_user.id == changed_user.id and (not changed_user.active or not user_can(changed_user, Perm.ADMIN)):
        raise AccountError("You cannot remove your own administrator rights or deactivate yourself.")


def check_role_change_keeps_admin(acting_user: User) -> None:
    """After a role edit (flushed, not committed) the acting user must still hold ADMIN."""
    db.session.flush()
    db.session.expire(acting_user, ["roles"])
    if not user_can(acting_user, Perm.ADMIN):
        raise AccountError("This change would remove your own administrator rights.")


def check_role_delete_keeps_admin(acting_user: User, role: Role) -> None:
    """Refuse deleting the last role through which the acting user holds ADMIN."""
    others = [r for r in acting_user.roles if r is not role]
    if role in acting_user.roles and not any((r.permissions or 0) & Perm.ADMIN for r in others):
        raise AccountError("Deleting this role would remove your own administrator rights.")


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
