"""Which language a request is served in."""

from flask import current_app, request
from flask_security import current_user


def supported_locales() -> list[str]:
    value = current_app.config["LOCALES"]
    if isinstance(value, str):
        value = value.split(",")
    return [code.strip() for code in value if code.strip()]


def select_locale() -> str:
    """A locale in the URL, then the user's saved preference, then Accept-Language, then the default."""
    locales = supported_locales()
    if request:
        url_locale = (request.view_args or {}).get("locale")
        if url_locale in locales:
            return url_locale
        if current_user and current_user.is_authenticated and current_user.locale in locales:
            return current_user.locale
        best = request.accept_languages.best_match(locales)
        if best:
            return best
    return current_app.config["DEFAULT_LOCALE"]
