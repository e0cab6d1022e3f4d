"""Which language a request is served in."""

from functools import cached_property
from urllib.parse import quote, urlencode

from babel import Locale, UnknownLocaleError
from babel.units import format_unit
from flask import current_app, g, has_request_context, request, url_for
from flask_babel import Babel, Domain, _get_current_context, get_locale
from flask_security import current_user


def supported_locales() -> list[str]:
    value = current_app.config["LOCALES"]
    if isinstance(value, str):
        value = value.split(",")
    return [code.strip() for code in value if code.strip()]


def mail_locale(user) -> str:
    """The language of a message to `user`: theirs when the site has it, else the default (a language saved before
    it was checked, or one the site no longer offers, would fail to load)."""
    return user.locale if user.locale in supported_locales() else current_app.config["DEFAULT_LOCALE"]


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


def language_name(code: str) -> str:
    """A language's name in the reader's language: "Chinese" to an English reader, "中文" to a Chinese one, "inglés"
    to a Spanish one (Babel's display name; the language switcher keeps each language's own name)."""
    try:
        return Locale.parse(code).get_display_name(str(get_locale() or current_app.config["DEFAULT_LOCALE"])) or code
    except (ValueError, UnknownLocaleError):
        return code


def file_size(size: int) -> str:
    """A number of bytes as the reader writes it: "16 MB", "512 kB", "2,000 bytes" (exact below 10 kB, where a
    small limit must read as the number it is)."""
    locale = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    if size < 10 * 1024:
        return format_unit(size, "digital-byte", length="long", locale=locale)
    unit, value = ("digital-megabyte", size / 1024**2) if size >= 1024**2 else ("digital-kilobyte", size / 1024)
    return format_unit(value, unit, length="short", format="#,##0.#", locale=locale)


def upload_limit() -> str:
    """The largest request the app takes (MAX_CONTENT_LENGTH), as `file_size` writes it."""
    return file_size(current_app.config["MAX_CONTENT_LENGTH"])


def switch_url(code: str) -> str:
    """The current page in another language: /<code>/… on the public site, else the same URL with ?lang=.

    The query string is carried over as data, never as url_for's arguments: `?endpoint=x` or `?_external=1`
    must not change how the link is built."""
    endpoint, args = request.endpoint or "", dict(request.view_args or {})
    query = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    if endpoint.startswith("public."):  # its views take the locale from the URL (popped into g)
        path = url_for(endpoint, **{**args, "locale": code})
    else:
        path = quote(request.script_root + request.path)
        query.append(("lang", code))
    return f"{path}?{urlencode(query, safe='/')}" if query else path


class RequestDomain(Domain):
    """Flask-Babel's message domain, with the request's catalog kept for the rest of the request.

    Flask-Babel finds the catalog anew for every string: three look-ups of `g` and the locale's identifier built
    (about 0.7 ms of a 20-comment console page's 15, for its ~90 strings of this domain). The catalog is kept
    with the locale it was found for (`force_locale` and `refresh()` change that object) and checked against the
    process's cache, which a catalog reload (`cms.catalog_store`) empties."""

    def get_translations(self):
        ctx = _get_current_context()
        if ctx is None:
            return super().get_translations()
        kept = getattr(ctx, "cms_translations", None)
        if kept is not None:
            domain, locale, translations = kept
            if domain is self and locale is getattr(ctx, "babel_locale", None) and self._still_cached(translations):
                return translations
        translations = super().get_translations()
        ctx.cms_translations = (self, get_locale(), translations)
        return translations

    def _still_cached(self, translations) -> bool:
        return any(cached is translations for cached in self.cache.values())


class RequestBabel(Babel):
    """Flask-Babel whose default domain is a RequestDomain."""

    @cached_property
    def domain_instance(self):
        return RequestDomain(domain=self.domain)
