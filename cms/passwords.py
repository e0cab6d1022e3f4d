"""The password rule, one for every place a password is set: Flask-Security's length check
(SECURITY_PASSWORD_LENGTH_MIN) and zxcvbn's guessability score (SECURITY_ZXCVBN_MINIMUM_SCORE), with a message
in the reader's language."""

import threading
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_security import PasswordUtil
from flask_security.utils import password_breached_validator, password_length_validator

# Flask-Security refuses passwords longer than this, so zxcvbn (whose own default cap is 72) sees them whole.
MAX_PASSWORD_LENGTH = 128
# zxcvbn looks for dictionary words disguised by swapping letters for symbols (p@$$w0rd) under every combination of
# swaps the password's symbols allow, each over the whole password: 128 characters of mixed symbols made 736
# combinations and took 6 s of a worker per registration. Past this many combinations the swaps are not tried
# (the password's other patterns still are); a person's p@$$w0rd makes one.
L33T_SUBSTITUTIONS = 16


def _bounded_l33t_match(password, _ranked_dictionaries=None, _l33t_table=None):
    """zxcvbn's l33t matcher, skipped past L33T_SUBSTITUTIONS combinations of swaps."""
    from zxcvbn import matching

    table = matching.L33T_TABLE if _l33t_table is None else _l33t_table
    dictionaries = matching.RANKED_DICTIONARIES if _ranked_dictionaries is None else _ranked_dictionaries
    swaps = matching.enumerate_l33t_subs(matching.relevant_l33t_subtable(password, table))
    if len(swaps) > L33T_SUBSTITUTIONS:
        return []
    return _library_l33t_match(password, dictionaries, table)


_library_l33t_match = None  # zxcvbn's own, once _zxcvbn() has put _bounded_l33t_match in its place
_SWAPPING = threading.Lock()


def _zxcvbn():
    """zxcvbn, imported when a password is first checked, with its l33t matcher bounded. Its dictionaries take about
    12 MB, which imported with the app every process carried: each web worker, and an export's two processes (which
    took the csv export's second process past 150 MB)."""
    global _library_l33t_match
    import zxcvbn
    from zxcvbn import matching

    # zxcvbn's matchers (omnimatch, and repeat_match for a repeated part) find it by its module name at each call.
    # One thread swaps it: a second, reading the bounded matcher as the library's, would have it call itself.
    with _SWAPPING:
        if matching.l33t_match is not _bounded_l33t_match:
            _library_l33t_match, matching.l33t_match = matching.l33t_match, _bounded_l33t_match
    return zxcvbn


class CmsPasswordUtil(PasswordUtil):
    """Flask-Security's password hook (register, change, reset) and `cms.accounts.password_problems` (console,
    import, CLI): normalise, check the length, then the complexity.

    Flask-Security's own complexity check returns zxcvbn's English warning and raises on passwords over 72
    characters; this one scores the whole password and explains in the reader's language."""

    def validate(self, password: str, is_register: bool, **kwargs: Any) -> tuple[list | None, str]:
        normalized = self.normalize(password)
        if len(normalized) > MAX_PASSWORD_LENGTH:  # Flask-Security would say "must be at least 12 characters"
            return [gettext("A password can be at most %(num)d characters long.", num=MAX_PASSWORD_LENGTH)], normalized
        problems = password_length_validator(normalized) or password_breached_validator(normalized)
        if problems:
            return problems, normalized
        return self.complexity_problems(normalized, is_register, **kwargs), normalized

    def complexity_problems(self, password: str, is_register: bool, **kwargs: Any) -> list[str] | None:
        config = current_app.config
        if config.get("SECURITY_PASSWORD_COMPLEXITY_CHECKER") != "zxcvbn":
            return None
        zxcvbn = _zxcvbn()
        # What is known of the account (email, username, name) makes a password easier to guess; the password
        # itself may be among a form's values on the account (the console's new_password), and is not a hint.
        values = kwargs.values() if is_register else vars(kwargs["user"]).values()
        known = [value for value in values if isinstance(value, str) and value and value != password]
        result = zxcvbn.zxcvbn(password, user_inputs=known, max_length=MAX_PASSWORD_LENGTH)
        if result["score"] >= config["SECURITY_ZXCVBN_MINIMUM_SCORE"]:
            return None
        return [
            gettext(
                "This password is too easy to guess. Use a few uncommon words, and avoid names, dates, "
                "keyboard patterns and well-known phrases."
            )
        ]
