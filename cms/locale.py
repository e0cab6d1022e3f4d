"""Which language a request is served in."""

from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_request_context, request, url_for
from flask_security import current_user


def supported_locales() -> list[str]:
    value = current_app.config["LOCALES"]
    if isinstance(value, str):
        value = value.split(",")
    return [code.strip() for code in value if code.strip()]


def select_locale() -> str:
    """The locale in the URL when there is one (/zh/…, or ?lang=zh on pages outside /<locale>/ such as the
    account forms), else the reader's preferred locale."""
    locales = supported_locales()
    if g.get("locale") in locales:
        return g.locale
    if has_request_context():
        if request.args.get("lang") in locales:
            return request.args["lang"]
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


def switch_url(code: str) -> str:
    """The current page in another language: /<code>/… on the public site, else the same URL with ?lang=."""
    endpoint, args = request.endpoint or "", dict(request.view_args or {})
    if endpoint.startswith("public."):
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        return url_for(endpoint, **{**args, "locale": code}) + query
    values: dict = {**args, **{k: v for k, v in request.args.items() if k != "lang"}, "lang": code}
    return url_for(endpoint, **values)
