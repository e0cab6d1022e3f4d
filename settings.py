"""Configuration classes, one per environment; every value can be overridden by a CMS_… variable."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


class Config:
    """Settings shared by every environment."""

    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: sqlite file in the instance folder
    # A read replica of DATABASE_URL: anonymous readers' public pages and API, and comment exports, read
    # through it (signed-in users and the console always read the primary). Unset: everything on the primary.
    DATABASE_REPLICA_URL: str | None = None
    UPLOADS_DIR = str(BASE_DIR / "uploads")
    REDIS_URL: str | None = None
    # The shared page cache waits at most REDIS_TIMEOUT seconds for Redis (to connect, then for each answer); after
    # a failure, each worker serves without the shared cache for REDIS_RETRY_AFTER seconds before asking again.
    REDIS_TIMEOUT = 1.0
    REDIS_RETRY_AFTER = 5.0
    EXPORTS_DIR: str | None = None  # background export files; default: instance/exports
    IMPORTS_DIR: str | None = None  # account imports between dry run and apply; default: instance/imports
    LOCALES = "en,zh,es"
    DEFAULT_LOCALE = "en"
    MAIL_SERVER: str | None = None  # None: outgoing mail is written to the log
    MAIL_PORT = 25
    MAIL_SENDER = "no-reply@cms.localhost"
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    COMMENTS_PREMODERATED = True
    COMMENT_MAX_LINKS = 2  # more links than this sends a comment to the queue
    EXPORT_ASYNC_ROWS = 20_000  # larger comment exports run in the background
    EXPORT_INLINE_ROWS = 2_000  # up to this many rows Flask-Excel builds the file in memory
    EXPORT_QUEUE = "cms-exports"  # the RQ queue `flask cms worker` serves
    ADMIN_PAGE_SIZE = 20  # rows per console list page by default; 50 and 100 are a click away
    # Console lists past these many rows show "more than N" (the exact count is one click away) and refuse
    # to page deeper (a filter narrows instead): no list statement reads more than about this many rows.
    LIST_COUNT_CAP = 10_000
    LIST_MAX_OFFSET = 10_000
    # A searched list page walks its order's index instead of reading every match once the search index
    # matches more comments than this (see cms.search.comment_page_clause).
    SEARCH_COMMON_MATCHES = 5_000
    PAGE_CACHE = True
    # How long a worker trusts the content version it last read (seconds): other workers show a change
    # within this time; the worker that made it shows it at once.
    PAGE_CACHE_VERSION_TTL = 1.0
    # Each worker keeps its own copies of the pages it served last, in front of the shared cache (Redis): at most
    # this many, each for at most PAGE_CACHE_LOCAL_TTL seconds and only while the content version is unchanged.
    # 0 turns the local copies (pages, and the version's scheduled publish times) off: every hit goes to the
    # shared cache.
    PAGE_CACHE_LOCAL_ITEMS = 200
    PAGE_CACHE_LOCAL_TTL = 5.0

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # The committed catalogs (messages.pot, <locale>/LC_MESSAGES/*.po): the developers' pybabel workflow.
    CATALOG_SOURCE_DIR = str(BASE_DIR / "translations")
    # Where this instance builds the catalogs it serves: the committed ones with what translators saved (kept in
    # the database) on top, compiled. Per machine, never shared; BABEL_TRANSLATION_DIRECTORIES is set to it.
    # Default: instance/translations.
    CATALOG_BUILD_DIR: str | None = None
    WTF_CSRF_TIME_LIMIT = None

    SECURITY_PASSWORD_HASH = "argon2"
    # The passwords' HMAC salt: a secret of its own, so rotating SECRET_KEY signs nobody out of their password.
    # Development keeps one in the instance folder; production refuses to start without CMS_SECURITY_PASSWORD_SALT.
    SECURITY_PASSWORD_SALT: str | None = None
    # Earlier secret keys (a list; CMS_SECRET_KEY_FALLBACKS='["old key"]'): sessions and links signed with them
    # stay valid while a rotated key takes over (docs/deploy.md).
    SECRET_KEY_FALLBACKS: list[str] | None = None
    SECURITY_REGISTERABLE = True
    SECURITY_CONFIRMABLE = True
    SECURITY_RECOVERABLE = True
    SECURITY_CHANGEABLE = True
    SECURITY_LOGIN_WITHOUT_CONFIRMATION = True
    SECURITY_USERNAME_ENABLE = True
    SECURITY_USERNAME_REQUIRED = True
    SECURITY_SEND_REGISTER_EMAIL = True
    SECURITY_EMAIL_VALIDATOR_ARGS = {"check_deliverability": False}
    # Cookies are not sent on cross-site requests other than top-level links (defence in depth beside CSRF tokens).
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Flask-Security's default ({"private": True, …}) renders as a malformed "private=True, no-store=True".
    SECURITY_CACHE_CONTROL = {"private": None, "no-store": None}
    # The digest inside mailed confirmation and reset links: sha512, not Flask-Security's default sha256_crypt
    # (about a second per link, which made an import of 10,000 accounts take hours). Links minted with the old
    # scheme are still read until they expire.
    SECURITY_HASHING_SCHEMES = ["hex_sha512", "sha256_crypt"]
    SECURITY_POST_LOGIN_VIEW = "/"
    SECURITY_POST_LOGOUT_VIEW = "/"
    SECURITY_TRACKABLE = False
    # Flask-Security's own catalogs, then ours (translations/<locale>/LC_MESSAGES/flask_security.po) for
    # the locales it names differently (zh, es).
    SECURITY_I18N_DIRNAME = ["builtin", str(BASE_DIR / "translations")]
    SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS = False

    # A Bootswatch theme that loads no web fonts from a CDN (most of them import Google Fonts).
    FLASK_ADMIN_SWATCH = "cerulean"
    FLASK_ADMIN_FLUID_LAYOUT = True


class Development(Config):
    DEBUG = True


class Testing(Config):
    TESTING = True
    PAGE_CACHE_VERSION_TTL = 0.0
    # Tests empty the tables between them, so content version numbers repeat: no local page copies, except
    # in the tests of the local copies themselves.
    PAGE_CACHE_LOCAL_ITEMS = 0
    # Cheap argon2 parameters keep the suite fast; production keeps the library defaults.
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS = {
        "argon2__rounds": 1,
        "argon2__memory_cost": 1024,
        "argon2__parallelism": 1,
    }
    SERVER_NAME = None


class Production(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


CONFIGS = {"development": Development, "testing": Testing, "production": Production}


def config_class(name: str | None = None) -> type[Config]:
    """The configuration class named by `name` or by CMS_CONFIG (default: development)."""
    name = (name or os.environ.get("CMS_CONFIG") or "development").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"CMS_CONFIG={name!r} is not one of {', '.join(CONFIGS)}") from None


def instance_secret(instance_path: str, name: str, first: str | None = None) -> str:
    """A development secret kept in the instance folder under `name`: `first` (or a random value) the first
    time, then read back on every start."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = first or secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value
