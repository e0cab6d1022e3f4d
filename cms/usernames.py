"""Usernames compare case-insensitively on MariaDB (_ci collation); storing them lower case makes SQLite agree."""

from flask_security import UsernameUtil


class CmsUsernameUtil(UsernameUtil):
    def normalize(self, username: str) -> str | None:
        clean = super().normalize(username)
        return clean.lower() if clean else clean
