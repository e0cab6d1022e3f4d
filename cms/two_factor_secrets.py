"""The secrets of two-factor sign-in, as Flask-Security's extendable helpers keep them: authenticator keys
encrypted with SECURITY_TOTP_SECRETS at a settable cost, and recovery codes as keyed hashes (shown once when they
are made, then only checked, each working once)."""

import hashlib
import hmac
import re

from flask import current_app
from flask_security import MfRecoveryCodesUtil, Totp, UserMixin
from passlib.totp import TOTP, AppWallet

_NOT_PART_OF_A_CODE = re.compile(r"[\s-]+")


def _secrets() -> AppWallet:
    """The keys of SECURITY_TOTP_SECRETS (which also encrypt the authenticator secrets), by tag."""
    return AppWallet(current_app.config["SECURITY_TOTP_SECRETS"])


def code_hash(code: str, tag: str | None = None) -> str:
    """`tag:hmac` of a code as typed (case, spaces and dashes ignored), under the key `tag` (default: the
    newest); the tag is kept so a code made before a new key was added still checks."""
    wallet = _secrets()
    tag = tag or wallet.default_tag
    typed = _NOT_PART_OF_A_CODE.sub("", code).lower().encode()
    digest = hmac.new(wallet.get_secret(tag), b"recovery-code:" + typed, hashlib.sha256).hexdigest()
    return f"{tag}:{digest}"


class CmsTotp(Totp):
    """Flask-Security's TOTP helper, with passlib's cost of encrypting a key settable (TWO_FACTOR_ENCRYPT_COST,
    log2 of the PBKDF2 rounds: the tests lower it as they lower argon2's) and a key of one's own enrolable."""

    def __init__(self, secrets: dict, issuer: str):
        super().__init__(secrets, issuer)
        self._secrets, self._issuer = secrets, issuer

    def set_encrypt_cost(self, cost: int) -> None:
        self._totp = TOTP.using(issuer=self._issuer, secrets=self._secrets, encrypt_cost=cost)

    def secret_for_key(self, key: str) -> str:
        """The stored (encrypted) form of an authenticator's base32 key, as /tf-setup stores one it made."""
        return self._totp(key=key, format="base32").to_json(encrypt=True)


class CmsRecoveryCodesUtil(MfRecoveryCodesUtil):
    """The codes in `User.mf_recovery_codes` are hashes: nobody, the database included, can show them again.
    Losing them means making new ones (/mf-recovery-codes), which replaces the old."""

    def _encrypt_codes(self, codes: list[str]) -> list[str]:
        return [code_hash(code) for code in codes]

    def get_recovery_codes(self, user: UserMixin) -> list[str]:
        return []  # shown once, when made

    def check_recovery_code(self, user: UserMixin, code: str) -> bool:
        return self._position(user, code) is not None

    def delete_recovery_code(self, user: UserMixin, code: str) -> bool:
        position = self._position(user, code)
        datastore = current_app.extensions["security"].datastore
        return position is not None and datastore.mf_delete_recovery_code(user, position)

    @staticmethod
    def _position(user: UserMixin, code: str) -> int | None:
        for position, stored in enumerate(user.mf_recovery_codes or []):
            tag = stored.partition(":")[0]
            try:
                typed = code_hash(code, tag)
            except KeyError:  # made under a key since removed from SECURITY_TOTP_SECRETS
                continue
            if hmac.compare_digest(stored, typed):
                return position
        return None
