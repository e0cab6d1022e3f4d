"""Which language a request is served in."""

from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_request_context, request
from flask_security import current_user


def supported_locales() -> list[str]:
    value = current_app.config["LOCALES"]
    if isinstance(value, str):
        value = value.split(",")
    return [code.strip() for code in value if code.strip()]


def select_locale() -> str:
    """The locale in the URL when there is one, else the reader's preferred locale."""
    if g.get("locale") in supported_locales():
        return g.locale
    if has_request_context():
        return preferred_locale()
    return current_app.config["DEFAULT_LOCALE"]


def preferred_locale() -> str:
    """Where `/` sends a reader: their saved preference, then Accept-Language, then the default."""
    locales = supported_locales()
    if current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    return accepted_locale(request.accept_languages, locales) or current_app.config["DEFAULT_LOCALE"]


def accepted_locale(accept, locales: list[str]) -> str | None:
    """The reader's most wanted language we have: `es-MX` is served as `es` before a lower-rated `en`."""
    for value, quality in accept:  # werkzeug keeps them best first
        if quality <= 0:
            continue
        tag = value.replace("_", "-").lower()
        for candidate in (tag, tag.split("-", 1)[0]):
            if candidate in locales:
                return candidate
    return None


def locale_name(code: str) -> str:
    """A language's own name, as its speakers write it ("中文", "español")."""
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
