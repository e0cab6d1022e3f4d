"""Limits on the account forms: Flask-Limiter per client address and per account, and the temporary lock after
repeated failed sign-ins. Neither tells a known email from an unknown one: both count whatever the form names.

Each app gets its own Limiter (`limiter_of(app)`), not one object in cms.extensions: Flask-Limiter keeps its
storage on the extension object, so one Limiter bound to several apps (tests, `tests/support/instances.py`)
would count every app's requests in whichever storage the last app configured."""

import logging
import math
import time
from collections.abc import Callable

from flask import Flask, current_app, request, session
from flask_babel import ngettext
from flask_limiter import Limiter
from flask_security import current_user
from flask_security.forms import ChangePasswordForm, LoginForm, TwoFactorVerifyCodeForm, VerifyForm
from flask_security.recovery_codes import MfRecoveryForm
from flask_security.twofactor import is_tf_setup
from flask_security.utils import get_message
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from cms import accounts
from cms.extensions import db, security
from cms.models import User

log = logging.getLogger(__name__)

# Endpoint → (its per-address limit, its per-account limit or None): settings names, read at each request.
LIMITED_ENDPOINTS: dict[str, tuple[str, str | None]] = {
    "security.login": ("LOGIN_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_ACCOUNT"),
    "security.register": ("ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT"),
    "security.forgot_password": ("ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT"),
    "security.send_confirmation": ("ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT"),
    # Second steps of signing in, where Flask-Security offers them (re-authentication, two-factor and recovery codes):
    # limited per address; a code also per account, the one whose password the session gave (`half_signed_in`), so
    # that someone holding a password cannot go on guessing its codes from many addresses.
    "security.verify": ("LOGIN_LIMIT_PER_ADDRESS", None),
    # /change asks for the current password: a session taken over could try passwords there without end.
    "security.change_password": ("LOGIN_LIMIT_PER_ADDRESS", None),
    "security.two_factor_token_validation": ("LOGIN_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_ACCOUNT"),
    "security.two_factor_rescue": ("ACCOUNT_MAIL_LIMIT_PER_ADDRESS", None),
    "security.mf_recovery": ("LOGIN_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_ACCOUNT"),
}
CODE_STEPS = {"security.two_factor_token_validation", "security.mf_recovery"}  # counted by `half_signed_in`


def init_app(app: Flask) -> None:
    """Bind a Limiter to `app` (Redis at REDIS_URL, or memory) and limit the POSTs of the account forms that
    Flask-Security registered (call after Security.init_app). Behind TRUSTED_PROXIES proxies, the client address
    the limits count by (and the audit log records) is the one they pass on in X-Forwarded-For."""
    if app.config.get("TRUSTED_PROXIES"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]))  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    limiter = Limiter(client_address, app=app)
    for endpoint, (per_address, per_account) in LIMITED_ENDPOINTS.items():
        view: Callable | None = app.view_functions.get(endpoint)
        if view is None:
            continue
        message = sign_in_wait if per_address == "LOGIN_LIMIT_PER_ADDRESS" else form_wait
        account = half_signed_in if endpoint in CODE_STEPS else submitted_account
        limits = [(per_address, client_address)] + ([(per_account, account)] if per_account else [])
        for setting, key_func in limits:
            view = limiter.limit(_setting(setting), key_func=key_func, methods=["POST"], error_message=message)(view)
        app.view_functions[endpoint] = view
    app.extensions["cms.limiter"] = limiter


def limiter_of(app: Flask) -> Limiter:
    return app.extensions["cms.limiter"]


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def client_address() -> str:
    """The address requests are counted by (behind a proxy, what the WSGI server or ProxyFix says it is)."""
    return f"address:{request.remote_addr or '-'}"


def as_stored(text: object, kind: str) -> str:
    """An email or username as a form gives it, the way Flask-Security's sign-in looks it up: normalised by its mail
    or username utility (an address's domain mapped as IDNA does, a username's full-width letters as NFKC does:
    `ｒeader` is reader), lower case as stored. Text neither utility takes is only trimmed and lowered."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        return ""
    utility = security._mail_util if kind == "email" else security._username_util
    try:
        normalised = utility.normalize(raw)
    except ValueError:  # an address that is not one: no account has it
        normalised = None
    return (normalised or raw).strip().lower()


def submitted_account() -> str:
    """The account a form names: its email, or the username a sign-in gives instead, as stored (`as_stored`)."""
    data = request.form or request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        return "account:"
    name = as_stored(data.get("email"), "email") or as_stored(data.get("username"), "username")
    return f"account:{name[:255]}"


def half_signed_in() -> str:
    """The account a code is sent for: the one whose password this session gave (Flask-Security keeps its
    fs_uniquifier in the session until the code is right)."""
    return f"code-for:{session.get('tf_user_id') or '-'}"


def _minutes_to_wait() -> int:
    try:
        reset_at = limiter_of(current_app).current_limit.window[0]  # type: ignore[union-attr]
    except Exception:  # the storage went away between the count and the message
        return 1
    return max(1, math.ceil((reset_at - time.time()) / 60))


def sign_in_wait() -> str:
    minutes = _minutes_to_wait()
    return ngettext(
        "Too many sign-in attempts. Try again in %(num)d minute.",
        "Too many sign-in attempts. Try again in %(num)d minutes.",
        minutes,
    )


def form_wait() -> str:
    minutes = _minutes_to_wait()
    return ngettext(
        "This form was sent too many times. Try again in %(num)d minute.",
        "This form was sent too many times. Try again in %(num)d minutes.",
        minutes,
    )


# -- the lock ---------------------------------------------------------------------------------------------
# An account's failures and lock live in the database (every instance sees them). An email or username without
# an account is counted the same way in the limiter's storage, so that after the same number of failures it is
# paused for the same time with the same answer: the lock never tells which addresses have an account. (Without
# Redis that storage is each process's own; see README.)
def locked_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-ins for this account: signing in to it is paused for %(num)d minute. "
        "If it is your account, check your email.",
        "Too many failed sign-ins for this account: signing in to it is paused for %(num)d minutes. "
        "If it is your account, check your email.",
        minutes,
    )


def _storage_key(kind: str, identity: str) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}/sign-in-{kind}/{identity}"


def _seconds_paused(identity: str) -> int:
    storage = limiter_of(current_app).storage
    try:
        if not storage.get(_storage_key("pause", identity)):
            return 0
        return max(1, math.ceil(storage.get_expiry(_storage_key("pause", identity)) - time.time()))
    except Exception:
        log.warning("sign-in pause unknown: the limits storage does not answer", exc_info=True)
        return 0


def _count_unknown_failure(identity: str) -> None:
    config = current_app.config
    storage = limiter_of(current_app).storage
    span = int(config["LOGIN_LOCKOUT_SECONDS"])
    try:
        if storage.incr(_storage_key("failures", identity), span) >= config["LOGIN_LOCKOUT_FAILURES"]:
            storage.clear(_storage_key("failures", identity))
            storage.incr(_storage_key("pause", identity), span)
    except Exception:
        log.warning("sign-in failure not counted: the limits storage does not answer", exc_info=True)


class LockingLoginForm(LoginForm):
    """Flask-Security's sign-in form that refuses, before any password check, while the account it names is
    locked (429), and counts failed sign-ins towards the lock."""

    def validate(self, **kwargs) -> bool:
        identity, account = self._named_account()
        if identity:
            _refuse_while_locked(account, identity)
        valid = super().validate(**kwargs)
        if self.user is not None and (account is None or self.user.id != account.id):
            _refuse_while_locked(self.user)  # type: ignore[arg-type]  # Flask-Security found an account the name did not
        if valid:
            # With a second factor, the sign-in completes with the code, and only then are failures forgotten: the
            # right password alone would let someone holding it guess codes forever, a few between each password.
            if not is_tf_setup(self.user):  # type: ignore[arg-type]
                accounts.forget_failed_sign_ins(self.user)  # type: ignore[arg-type]
            return True
        if self.user_authenticated:  # the right password for an account that may not sign in (unconfirmed…)
            accounts.forget_failed_sign_ins(self.user)  # type: ignore[arg-type]
            # Say why: the view makes field errors generic, but whoever knows the password may know the account.
            self.form_errors.extend(self.ifield.errors)  # type: ignore[union-attr]
            self.ifield.errors = []  # type: ignore[union-attr]
        elif self.user is not None:
            accounts.record_failed_sign_in(self.user)  # type: ignore[arg-type]
        elif self.ifield is not None and identity:  # looked up, no such account
            _count_unknown_failure(identity)
        return False

    def _named_account(self) -> tuple[str, User | None]:
        """The email (or else username) the form names as Flask-Security looks it up (`as_stored`), and its account
        if there is one: another spelling of a locked account's name (a full-width letter) is that account."""
        email = as_stored(self.email.data, "email")
        username_field = getattr(self, "username", None)
        username = as_stored(username_field.data if username_field is not None else None, "username")
        if email:
            return f"email:{email}", db.session.scalar(select(User).where(User.email == email))
        if username:
            return f"username:{username}", db.session.scalar(select(User).where(User.username == username))
        return "", None


def _refuse_while_locked(user: User | None, identity: str = "") -> None:
    """429 while `user`'s account is locked; with no account, while sign-ins naming `identity` are paused."""
    wait = accounts.seconds_locked(user) if user is not None else _seconds_paused(identity)
    if wait:
        raise TooManyRequests(locked_message(wait))


class LockingCodeForm(TwoFactorVerifyCodeForm):
    """Flask-Security's authenticator-code form. While signing in (not while setting up an authenticator): refused
    (429) while the account is locked, even for the right code; a wrong code counts towards the lock
    (`User.track_failed_authn`); the right one completes the sign-in and forgets the failures."""

    def validate(self, **kwargs) -> bool:
        signing_in = not self.is_setup
        if signing_in:
            _refuse_while_locked(self.user)  # type: ignore[arg-type]
        if not super().validate(**kwargs):
            return False
        if signing_in:
            accounts.forget_failed_sign_ins(self.user)  # type: ignore[arg-type]
        return True


class LockingVerifyForm(VerifyForm):
    """Flask-Security's re-authentication form (/verify, asked before sensitive changes when the sign-in is not
    fresh): refused (429) while the account is locked, and a wrong password counts towards the lock, as at sign-in.
    A session taken over could otherwise try the account's password there, outside the lock."""

    def validate(self, **kwargs) -> bool:
        _refuse_while_locked(self.user)  # type: ignore[arg-type]
        if super().validate(**kwargs):
            return True
        if _wrong_password(self.password):
            accounts.record_failed_sign_in(self.user)  # type: ignore[arg-type]
        return False


class LockingChangePasswordForm(ChangePasswordForm):
    """Flask-Security's change-password form (/change), which asks for the current password: refused (429) while the
    account is locked, and a wrong current password counts towards the lock. Problems with the new password do
    not count."""

    def validate(self, **kwargs) -> bool:
        _refuse_while_locked(current_user)  # type: ignore[arg-type]
        if super().validate(**kwargs):
            return True
        if _wrong_password(self.password):
            accounts.record_failed_sign_in(current_user)  # type: ignore[arg-type]
        return False


def _wrong_password(field) -> bool:
    """Whether Flask-Security refused the password in `field` as not the account's (not as missing or as the same
    as the new one)."""
    return get_message("INVALID_PASSWORD")[0] in (field.errors or [])


class LockingRecoveryForm(MfRecoveryForm):
    """Flask-Security's recovery-code form (a sign-in's second step without the authenticator), locked like the
    code form; the library counts no failure here, so a wrong code is passed to `User.track_failed_authn`."""

    def validate(self, **kwargs) -> bool:
        _refuse_while_locked(self.user)  # type: ignore[arg-type]
        if super().validate(**kwargs):
            accounts.forget_failed_sign_ins(self.user)  # type: ignore[arg-type]
            return True
        if self.code.data:  # a code was given, and it is none of the account's
            self.user.track_failed_authn("recovery_code", tfa=True)  # type: ignore[union-attr]
        return False
