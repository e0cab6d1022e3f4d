"""Permission bits, the default roles, and the Flask-Principal permissions every check goes through."""

import enum
from collections.abc import Iterable

from flask import current_app, g
from flask_principal import Need, Permission


class Perm(enum.IntFlag):
    FOLLOW = 0x01
    COMMENT = 0x02
    WRITE = 0x04
    MODERATE = 0x08
    PUBLISH = 0x10
    TRANSLATE = 0x20
    ADMIN = 0x80


ALL_PERMISSIONS = Perm.FOLLOW | Perm.COMMENT | Perm.WRITE | Perm.MODERATE | Perm.PUBLISH | Perm.TRANSLATE | Perm.ADMIN

READER = Perm.FOLLOW | Perm.COMMENT
AUTHOR = READER | Perm.WRITE

# Roles that `cms init` creates or brings up to date; names are part of the contract.
DEFAULT_ROLES: dict[str, tuple[int, str]] = {
    "Reader": (READER, "Reads, comments and follows authors."),
    "Author": (AUTHOR, "Writes posts and submits them for review."),
    "Editor": (AUTHOR | Perm.PUBLISH, "Writes, reviews and publishes posts."),
    "Moderator": (READER | Perm.MODERATE, "Works through the comment queue."),
    "Translator": (READER | Perm.TRANSLATE, "Edits the interface's translation catalogs."),
    "Administrator": (ALL_PERMISSIONS, "Manages accounts, roles and everything else."),
}

# Staff are those who may open the console at all.
STAFF = Perm.WRITE | Perm.MODERATE | Perm.TRANSLATE | Perm.ADMIN


# Roles holding any of these must sign in with a second factor, unless TWO_FACTOR_REQUIRED_ROLES names the roles.
SECOND_FACTOR = Perm.PUBLISH | Perm.MODERATE | Perm.TRANSLATE | Perm.ADMIN


def second_factor_required(roles: Iterable) -> bool:
    """Whether a member of these roles must sign in with a second factor: a role named in the setting
    TWO_FACTOR_REQUIRED_ROLES (comma-separated, case-insensitive) or, when it is unset, a role holding any
    SECOND_FACTOR permission."""
    setting = current_app.config.get("TWO_FACTOR_REQUIRED_ROLES")
    if setting is None:
        return any(role.get_permissions() & names_of(SECOND_FACTOR) for role in roles)
    named = setting.split(",") if isinstance(setting, str) else setting
    required = {str(name).strip().lower() for name in named} - {""}
    return any(role.name.lower() in required for role in roles)


def perm_name(perm: Perm) -> str:
    return (perm.name or "").lower()


def names_of(mask: int) -> set[str]:
    """The permission names ('follow', 'publish', …) granted by a bit mask."""
    return {perm_name(p) for p in Perm if mask & p}


def mask_of(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        mask |= Perm[name.upper()]
    return mask


def granted_names(mask: int) -> set[str]:
    """The permission names a role with this mask holds. ADMIN holds every permission: this is the one
    place that says so, and Flask-Security's identity, its decorators and `has_permission` all read it."""
    return names_of(ALL_PERMISSIONS if mask & Perm.ADMIN else mask)


def need(perm: Perm) -> Need:
    """The Need Flask-Security's identity loader gives for a granted bit (`fsperm`, name)."""
    return Need("fsperm", perm_name(perm))


def permission(perms: int) -> Permission:
    """A Principal permission allowing any of the bits in `perms`."""
    return Permission(*(need(p) for p in Perm if perms & p))


def can(perms: int) -> bool:
    """Whether the signed-in identity of this request holds any of the bits in `perms`."""
    if not hasattr(g, "identity"):  # an error raised before Principal loaded the identity (e.g. CSRF)
        return False
    return permission(perms).can()


def user_can(user, perms: int) -> bool:
    """Whether `user` holds any of the bits in `perms`, outside a request (CLI, jobs, policies)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(user.has_permission(perm_name(p)) for p in Perm if perms & p)


def template_helpers() -> dict:
    """Names templates use for permission checks: `{% if can(Perm.PUBLISH) %}`."""
    return {"can": can, "Perm": Perm, "STAFF": STAFF}
