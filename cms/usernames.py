"""What a username may hold, one rule for the console, the import, registration and sign-in; usernames compare
case-insensitively on MariaDB (_ci collation), and storing them lower case makes SQLite agree."""

import re

from flask_babel import lazy_gettext as _l
from flask_security import UsernameUtil
from flask_security.utils import get_message

# Letters and digits of any script (with their accents: a username is kept decomposed, as Flask-Security's sign-in
# normalises it), '_', '.' and '-'. A username is a part of the author's address (/<locale>/authors/<username>),
# where a "/" made the page unreachable, and "?", "#" or a space mislead.
USERNAME_CHARACTERS = re.compile(r"(?:[\w.-]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])+")
USERNAME_REFUSED = _l("A username holds letters, digits, '_', '.' and '-' only.")


class CmsUsernameUtil(UsernameUtil):
    """Flask-Security's username rule is a list of Unicode categories (SECURITY_USERNAME_ALLOWED_CHARS), which cannot
    say USERNAME_CHARACTERS: '.' shares its category with '/', '?' and '#'. With the categories unset there, this
    class applies USERNAME_CHARACTERS to what Flask-Security cleaned. Letters and digits alone, its default, refused
    at sign-in every username the console and the import made with a '.', '_' or '-' (an address's local part,
    "ann.lee", is an imported account's username)."""

    def normalize(self, username: str) -> str | None:
        clean = super().normalize(username)
        if not clean or not USERNAME_CHARACTERS.fullmatch(clean):
            return None
        return clean.lower()

    def validate(self, username: str) -> tuple[str | None, str | None]:
        message, clean = super().validate(username)
        if message is None and clean and not USERNAME_CHARACTERS.fullmatch(clean):
            return get_message("USERNAME_DISALLOWED_CHARACTERS")[0], None  # Flask-Security's words, translated
        return message, clean
