"""Invitations: an account an administrator creates (in the console or by import) gets a mail with a link; the
invitee follows it, chooses their own password (the one password rule, `cms.passwords`) and is confirmed. Nobody
types a password for someone else, nor a confirmation date.

The link is signed with the secret key (earlier keys still read it) and names the account's `fs_uniquifier` and a
digest of its password as it was (Flask-Security's cheap hashing, SECURITY_HASHING_SCHEMES): setting a password
changes both, so a link works once, and for INVITATION_LIFETIME seconds."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_security import hash_password
from flask_security.utils import hash_data, verify_hash
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from cms import audit
from cms.accounts import checked_password
from cms.domain import DomainError
from cms.extensions import db
from cms.locale import mail_locale
from cms.models import User, utcnow
from cms.outbox import queue_many

SALT = "cms-invitation"


class InvitationError(DomainError):
    """The link cannot be used (expired, used, damaged) or the password is refused; the message says which."""


def _serializer() -> URLSafeTimedSerializer:
    config = current_app.config
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return URLSafeTimedSerializer(keys, salt=SALT)


def invitation_token(user: User, serializer: URLSafeTimedSerializer | None = None) -> str:
    """The account, what its password is now (the link works once: choosing a password changes that), and a nonce,
    so that an invitation sent again within the same second is still a link of its own."""
    payload = [user.fs_uniquifier, hash_data(user.password or ""), secrets.token_hex(4)]
    return (serializer or _serializer()).dumps(payload)


def send_invitation(user: User) -> None:
    """Put the invitation to `user` in the outbox, in their language; it goes out when the caller commits."""
    invite_accounts([user])


def invite_accounts(users: list[User]) -> None:
    """Put an invitation to each of `users` in the outbox, in their language, in one statement (an import
    invites thousands at once); they go out when the caller commits. A user needs its email, username and
    uniquifier, not yet an id."""
    config = current_app.config
    until = (utcnow() + timedelta(seconds=config["INVITATION_LIFETIME"])).strftime("%Y-%m-%d %H:%M")
    # The link's start once, the token appended per account (url_for for each of thousands costs seconds).
    link = url_for("site.accept_invitation", token="-", _external=True)[:-1]  # noqa: S106 - a placeholder
    serializer = _serializer()
    texts: dict[str, tuple[str, str]] = {}  # locale → subject and body, with the slots below in it
    slots = {key: f"[{key}:{uuid.uuid4().hex}]" for key in ("name", "username", "token")}
    mails = []
    for user in users:
        locale = mail_locale(user)
        if locale not in texts:
            texts[locale] = _invitation_text(locale, slots["name"], slots["username"], link + slots["token"], until)
        subject, body = texts[locale]
        token = invitation_token(user, serializer)
        for key, value in (("name", user.display_name), ("username", user.username), ("token", token)):
            body = body.replace(slots[key], value)
        mails.append({"kind": "invitation", "recipient": user.email, "subject": subject, "body": body})
    queue_many(mails)


def _invitation_text(locale: str, name: str, username: str, link: str, until: str) -> tuple[str, str]:
    """An invitation's subject and text in `locale` (made once per language of an import, then filled in)."""
    with force_locale(locale):
        paragraphs = [
            _("Hello %(name)s,", name=name),
            _(
                "An administrator of the Newsroom created an account for you, with the username %(username)s. "
                "Choose your password here to start using it:",
                username=username,
            )
            + "\n"
            + link,
            _("The link works once, until %(time)s (UTC).", time=until),
        ]
        return _("You are invited to the Newsroom"), "\n\n".join(paragraphs) + "\n"


def invited_account(token: str) -> User:
    """The account an invitation link names, while the link can be used; InvitationError otherwise."""
    try:
        uniquifier, digest, _nonce = _serializer().loads(token, max_age=current_app.config["INVITATION_LIFETIME"])
    except SignatureExpired:
        raise InvitationError(_l("This invitation has expired. Ask an administrator to send you a new one.")) from None
    except (BadData, ValueError, TypeError):
        raise InvitationError(_l("This invitation link is not valid. Check that you copied all of it.")) from None
    user = db.session.scalar(select(User).where(User.fs_uniquifier == str(uniquifier)))
    if user is None or not verify_hash(digest, user.password or ""):
        raise InvitationError(
            _l("This invitation has already been used. Sign in, or choose a new password with “Forgot password”.")
        )
    return user


def accept_invitation(token: str, password: str) -> User:
    """Set the invitee's own password (the password rule applies) and confirm their address, committed; the link
    no longer works after this (a new uniquifier, which also ends any session of the account)."""
    user = invited_account(token)
    user.password = hash_password(checked_password(password, user))
    user.confirmed_at = user.confirmed_at or utcnow()
    user.fs_uniquifier = uuid.uuid4().hex
    audit.record("accept_invitation", "User", user.id, summary=user.email)
    db.session.commit()
    return user


def invite_again(users: list[User]) -> int:
    """A new invitation to each of `users` who has not accepted one yet (no password chosen, or not confirmed);
    earlier links keep working until they expire. How many, committed with their audit entries."""
    waiting = [user for user in users if user.password is None or user.confirmed_at is None]
    invite_accounts(waiting)
    for user in waiting:
        audit.record("invite", "User", user.id, summary=user.email)
    db.session.commit()
    return len(waiting)
