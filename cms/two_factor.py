"""Staff two-factor sign-in around Flask-Security's (authenticator app, recovery codes): the console closed to a
member who must have a second factor and has none, recovery codes offered after every setup, an administrator's
reset, and enrolling a known key (demo accounts, tests).

Who must have one is `permissions.second_factor_required`, which `User.check_tf_required` (Flask-Security's
per-user hook) asks at every sign-in."""

from collections.abc import Iterable
from typing import cast

from flask import Flask, after_this_request, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_security import Security, current_user
from flask_security.signals import tf_code_confirmed, tf_disabled, tf_profile_changed
from flask_security.tf_plugin import tf_clean_session
from flask_security.twofactor import is_tf_setup
from sqlalchemy import update

from cms import audit
from cms.domain import DomainError
from cms.extensions import db, security
from cms.models import User
from cms.permissions import Perm, second_factor_required, user_can
from cms.two_factor_secrets import CmsTotp

METHOD = "authenticator"


class TwoFactorError(DomainError):
    """A two-factor request the rules refuse; the message is shown to the user."""


def has_second_factor(user: User) -> bool:
    return is_tf_setup(user)


def must_set_up(user: User) -> bool:
    """A member whose role requires a second factor and who has none (new, promoted, or reset)."""
    return second_factor_required(user.roles) and not is_tf_setup(user)


def enrol_authenticator(user: User, key: str) -> None:
    """Give `user` the authenticator with this base32 key, as if they had scanned it at /tf-setup (the demo
    accounts, tests). The key is stored encrypted with SECURITY_TOTP_SECRETS, like one set up there."""
    security.datastore.tf_set(user, METHOD, totp_secret=_totp().secret_for_key(key))
    db.session.commit()


def reset_second_factor(acting_user: User, users: Iterable[User]) -> int:
    """An administrator's reset of members' second factor (a lost phone): their authenticator and recovery codes
    go, each reset is audited, and a member whose role requires one sets it up again at their next sign-in (or
    the next time they open the console). Returns how many had one to reset."""
    if not user_can(acting_user, Perm.ADMIN):
        raise TwoFactorError(_l("Only administrators can reset a second factor."))
    enrolled = [user for user in users if user.tf_primary_method or user.tf_totp_secret or user.mf_recovery_codes]
    if enrolled:
        # One statement and one named audit entry per member, rather than the generic field-change entries.
        db.session.execute(
            update(User)
            .where(User.id.in_([user.id for user in enrolled]))
            .values(tf_primary_method=None, tf_totp_secret=None, tf_phone_number=None, mf_recovery_codes=None),
            execution_options={"synchronize_session": False},
        )
        for user in enrolled:
            audit.record("reset_two_factor", "User", user.id, summary=user.email)
    db.session.commit()
    return len(enrolled)


def init_app(app: Flask) -> None:
    state = app.extensions["security"]  # the app's own (cms.extensions.security needs an app context)
    _totp(state).set_encrypt_cost(app.config["TWO_FACTOR_ENCRYPT_COST"])
    app.before_request(_console_needs_second_factor)
    app.before_request(_code_step_after_a_reset)
    state.mf_recovery_codes_context_processor(_recovery_codes_context)
    tf_code_confirmed.connect(_offer_recovery_codes)
    tf_profile_changed.connect(_offer_recovery_codes)
    tf_disabled.connect(_forget_recovery_codes)


def _totp(state: Security = security) -> CmsTotp:
    """The authenticator checker of `state` (default: the current app's Security object)."""
    return cast(CmsTotp, state.totp_factory)  # extensions.new_security builds it with totp_cls=CmsTotp


def _console_needs_second_factor():
    """A signed-in member who must have a second factor and has none (promoted, or reset, since they signed in)
    is sent to set it up before any console page."""
    consoles = tuple(admin.url for admin in current_app.extensions.get("admin", []))
    if not consoles or not (request.path in consoles or request.path.startswith(tuple(f"{c}/" for c in consoles))):
        return None
    if current_user.is_authenticated and must_set_up(current_user):
        flash(gettext("Set up two-factor sign-in to use the staff console."), "error")
        return redirect(url_for("security.two_factor_setup"))
    return None


def _code_step_after_a_reset():
    """A member between their password and their code whose second factor an administrator reset meanwhile: the
    code step can no longer succeed (Flask-Security refused every code without a word), so they are told, and sign
    in again, which sets up a new one."""
    if request.endpoint != "security.two_factor_token_validation" or current_user.is_authenticated:
        return None
    if session.get("tf_state") != "ready" or not session.get("tf_user_id"):
        return None
    user = security.datastore.find_user(fs_uniquifier=session["tf_user_id"])
    if user is None or has_second_factor(user):
        return None  # an account gone meanwhile is Flask-Security's own case
    tf_clean_session()
    flash(gettext("Your two-factor sign-in was reset by an administrator. Sign in again to set it up."), "error")
    return redirect(url_for("security.login", next=request.args.get("next") or None))


def _offer_recovery_codes(sender, user: User, **extra) -> None:
    """After a second factor is set up (not after an ordinary sign-in with one), the next page is the recovery
    codes page, which makes them at a click and shows them that once."""
    # A setup is confirmed at /tf-setup/<token> when signed in, and at /tf-validate while setting up at sign-in.
    setting_up = (
        request.endpoint == "security.two_factor_setup_validate" or session.get("tf_state") == "validating_profile"
    )
    if not setting_up:
        return

    @after_this_request
    def to_recovery_codes(response):
        if response.status_code in (302, 303):
            response.location = url_for("security.mf_recovery_codes")
        return response


def _forget_recovery_codes(sender, user: User, **extra) -> None:
    """Turning two-factor sign-in off drops the recovery codes too (Flask-Security's view commits)."""
    security.datastore.mf_set_recovery_codes(user, None)


def _recovery_codes_context() -> dict:
    return {
        "has_second_factor": has_second_factor(current_user),
        "unused_recovery_codes": len(current_user.mf_recovery_codes or []),
    }
