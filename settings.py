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
    # The host names the site answers to (Flask's; `CMS_TRUSTED_HOSTS='["news.example", ".news.example"]'`). Set it
    # in production unless the proxy in front refuses other Host headers: a forged one otherwise names another host
    # in the pages' absolute links and is stored as a page of its own in the shared cache. Others get a 400.
    TRUSTED_HOSTS: list[str] | None = None
    # The shared page cache waits at most REDIS_TIMEOUT seconds for Redis (to connect, then for each answer); after
    # a failure, each worker serves without the shared cache for REDIS_RETRY_AFTER seconds before asking again.
    REDIS_TIMEOUT = 1.0
    REDIS_RETRY_AFTER = 5.0
    EXPORTS_DIR: str | None = None  # background export files; default: instance/exports
    IMPORTS_DIR: str | None = None  # account imports between dry run and apply; default: instance/imports
    # An account import's preview (its rows, people's details) can be applied for this many seconds after the dry
    # run; then it is gone, removed when it is asked for or when the next dry run is kept.
    IMPORT_PREVIEW_LIFETIME = 3600
    LOCALES = "en,zh,es"
    DEFAULT_LOCALE = "en"
    MAIL_SERVER: str | None = None  # None: outgoing mail is written to the log
    MAIL_PORT = 25
    MAIL_SENDER = "no-reply@cms.localhost"
    # Every mail goes through the outbox table (cms.outbox): written with the change that causes it, sent by a
    # worker. "auto": RQ (queue MAIL_QUEUE, served by `flask cms worker`) when REDIS_URL is set, else a thread of
    # the process that wrote it; "rq" or "thread" to choose; "none": only `flask cms send-mail` sends (cron).
    MAIL_WORKER = "auto"
    MAIL_QUEUE = "cms-mail"
    # A failed attempt is tried again MAIL_RETRY_BASE_SECONDS later, then twice that, four times… (a refusal
    # the server calls permanent, 5xx, is not retried); after MAIL_MAX_ATTEMPTS attempts the mail stays failed,
    # listed for administrators at /admin/outbox/.
    MAIL_MAX_ATTEMPTS = 5
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_BATCH = 50  # mails one worker claims at a time
    MAIL_KEEP_SENT = 7 * 24 * 3600  # seconds a sent mail stays in the outbox; then it is deleted, with its link
    MAIL_TIMEOUT = 30  # seconds the SMTP server may take to answer
    # How long an invitation link (an account an administrator created) can be used to set a password.
    INVITATION_LIFETIME = 7 * 24 * 3600
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    COMMENTS_PREMODERATED = True
    COMMENT_MAX_LINKS = 2  # more links than this sends a comment to the queue
    EXPORT_ASYNC_ROWS = 20_000  # larger comment exports run in the background
    EXPORT_INLINE_ROWS = 2_000  # up to this many rows Flask-Excel builds the file in memory
    EXPORT_QUEUE = "cms-exports"  # the RQ queue `flask cms worker` serves
    # A temporary export file (`.export-*`, `*.part`) in EXPORTS_DIR whose last write is this many seconds old was
    # left by a process that died: it is removed when expired exports are purged and when `flask cms worker` starts.
    EXPORT_TEMPORARY_LIFETIME = 3600
    # Background jobs (cms.leases): a running job's worker writes a heartbeat to its row at least every
    # JOB_STALE_AFTER / 4 seconds, even while one chunk is slow. Whoever looks (the job page and its poll, the
    # job list, `flask cms worker` starting, `flask cms jobs`) fails a job whose heartbeat is older than
    # JOB_STALE_AFTER seconds (its worker died: a restart, a deploy, out of memory), and a queued job that waited
    # JOB_START_WITHIN seconds while no worker was running any job (no worker is serving the queue).
    JOB_STALE_AFTER = 60
    JOB_START_WITHIN = 300
    # The longest an export may run, in seconds: a million rows take minutes. Past it the job is failed; RQ's own
    # job timeout is a minute longer, so RQ stops a job stuck inside one step.
    EXPORT_JOB_TIMEOUT = 2 * 3600
    ADMIN_PAGE_SIZE = 20  # rows per console list page by default; 50 and 100 are a click away
    # Console lists past these many rows show "more than N" (the exact count is one click away) and refuse
    # to page deeper (a filter narrows instead): no list statement reads more than about this many rows.
    LIST_COUNT_CAP = 10_000
    LIST_MAX_OFFSET = 10_000
    # On MariaDB, a statement of a console list page stops once it has examined this many rows (LIMIT ROWS
    # EXAMINED): a filter no index serves in the list's order then asks to be narrowed instead of reading a whole
    # table. Above LIST_COUNT_CAP by what a capped count reads through a join; 0 turns the ceiling off.
    LIST_ROWS_EXAMINED = 12_000
    # A searched list page walks its order's index instead of reading every match once the search index
    # matches more comments than this (see cms.search.comment_page_clause).
    SEARCH_COMMON_MATCHES = 5_000
    # … or once they match at least this share of the table's rows (0: off): a page along the order then reads at
    # most about page size ÷ share rows, fewer than the match set costs (cms.search._common).
    SEARCH_COMMON_SHARE = 0.01
    # A search's count first reads this many of the newest rows: when each holds the terms (the domain of every
    # reader's email), the newest LIST_COUNT_CAP + 1 rows count it instead of the index's whole match set.
    SEARCH_PROBE_ROWS = 50
    # When at least this share of those newest rows hold the terms (a single letter), they are frequent: the page
    # walks the list's order and the count reads the first LIST_COUNT_CAP rows, without the index's look-up.
    SEARCH_FREQUENT_SHARE = 0.5
    # Console main menus each worker keeps rendered: one per role set, language and view (admin_views/menu.py).
    CONSOLE_MENUS_CACHED = 256
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
    # How long (seconds) a previewed catalog upload can be applied; after that it must be uploaded again.
    CATALOG_PREVIEW_TTL = 3600
    # Compiled templates, kept between processes (cms.template_cache); default instance/template-cache, "" for none.
    TEMPLATE_CACHE_DIR: str | None = None
    # Load every template when the app starts, not on the first page that uses each.
    LOAD_TEMPLATES_AT_START = False
    # Keep what the app built at start out of the garbage collector's full passes (cms.gc_freeze).
    FREEZE_OBJECTS_AT_START = False
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
    # Sign-in only after the email is confirmed: a registration that signed in at once would tell a new address
    # (signed in) from one that already has an account (not signed in).
    SECURITY_LOGIN_WITHOUT_CONFIRMATION = False
    SECURITY_USERNAME_ENABLE = True
    SECURITY_USERNAME_REQUIRED = True
    # Every username the product keeps signs in: Flask-Security's own bounds (4 to 32) refused the import's
    # 3-character names and the console's 33 to 64 (cms.accounts.USERNAME_LENGTH, the column's length).
    SECURITY_USERNAME_MIN_LENGTH = 1
    SECURITY_USERNAME_MAX_LENGTH = 64
    # No Unicode categories: cms.usernames.CmsUsernameUtil applies the product's own rule (letters, digits, '_', '.'
    # and '-'), which categories cannot say; Flask-Security's letters and digits refused "ann.lee" at sign-in.
    SECURITY_USERNAME_ALLOWED_CHARS: list[str] | None = None
    SECURITY_SEND_REGISTER_EMAIL = True
    SECURITY_EMAIL_VALIDATOR_ARGS = {"check_deliverability": False}
    # Cookies are not sent on cross-site requests other than top-level links (defence in depth beside CSRF tokens).
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Sessions live on the server (cms/sessions.py): in Redis when REDIS_URL is set, else in the database's
    # server_session table; the cookie holds only a random id, so signing out ends the session for good.
    # A signed-in session ends after this many seconds without a request; "remember me" keeps its cookie for as
    # long (otherwise the cookie ends with the browser).
    PERMANENT_SESSION_LIFETIME = 14 * 24 * 3600
    SESSION_ANONYMOUS_LIFETIME = 24 * 3600  # a session nobody is signed in to (a sign-in form's CSRF token)
    SESSION_PERMANENT = False
    SESSION_KEY_PREFIX = "cms:session:"  # Redis keys
    SESSION_ID_LENGTH = 32  # random bytes in a session id
    SESSION_REFRESH_INTERVAL = 60  # an unchanged session is written back (its expiry or TTL renewed) at most this often
    SESSION_CLEANUP_N_REQUESTS: int | None = (
        1000  # database store: expired rows are deleted on average every N requests
    )
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

    # Security headers (cms/headers.py). The app does not redirect http to https: in production the TLS proxy in
    # front of it does (and health checks reach gunicorn over http). Strict-Transport-Security is sent on https
    # requests (or X-Forwarded-Proto: https) when HSTS_MAX_AGE > 0, with includeSubDomains.
    FORCE_HTTPS = False
    HSTS_MAX_AGE = 0
    # Accounts: no answer tells a known email from an unknown one; passwords of 12+ characters that zxcvbn
    # scores 3 or more (cms.passwords); limits and lockout on the account forms (cms.throttle).
    SECURITY_RETURN_GENERIC_RESPONSES = True
    SECURITY_PASSWORD_LENGTH_MIN = 12
    SECURITY_PASSWORD_COMPLEXITY_CHECKER = "zxcvbn"
    # Flask-Limiter rate strings, counted per client address and per account (the email or username the form
    # names), on POSTs only. Storage: Redis at REDIS_URL when set, otherwise each process's memory.
    LOGIN_LIMIT_PER_ADDRESS = "30 per minute; 300 per hour"
    LOGIN_LIMIT_PER_ACCOUNT = "10 per minute; 50 per hour"
    # The forms that send mail (/register, /reset, /confirm), each counted on its own.
    ACCOUNT_MAIL_LIMIT_PER_ADDRESS = "20 per hour"
    ACCOUNT_MAIL_LIMIT_PER_ACCOUNT = "5 per hour"
    # This many failed sign-ins within LOGIN_LOCKOUT_SECONDS lock the account for LOGIN_LOCKOUT_SECONDS (even
    # the right password is refused; the owner gets an email). An email without an account is paused alike.
    # Proxies in front of the app that add the client's address to X-Forwarded-For (one load balancer: 1). The
    # limits count, and the audit log records, the address they pass on; 0 trusts no header. Never more than the
    # proxies really there: a client could then choose its own address.
    TRUSTED_PROXIES = 0
    LOGIN_LOCKOUT_FAILURES = 10
    LOGIN_LOCKOUT_SECONDS = 900
    RATELIMIT_KEY_PREFIX = "cms"
    RATELIMIT_HEADERS_ENABLED = True  # Retry-After on a 429
    # Redis unreachable: count in this process's memory instead, and never fail a request over a limit's storage;
    # a Redis that does not answer is given up on after a second, not waited for.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Two-factor sign-in (Flask-Security's, with an authenticator app and one-time recovery codes).
    # The roles that must use it, comma-separated ("Editor,Administrator"); unset: every role holding PUBLISH,
    # MODERATE, TRANSLATE or ADMIN (cms.permissions.second_factor_required). Everyone else may opt in (/tf-setup).
    TWO_FACTOR_REQUIRED_ROLES: str | None = None
    SECURITY_TWO_FACTOR = True
    SECURITY_TWO_FACTOR_ENABLED_METHODS = ["authenticator"]
    # Encrypt the authenticator secrets at rest and key the recovery codes' hashes: {"1": "long random"}, a newer
    # key added under a higher number ("2") while the old ones stay to read what they wrote. Production refuses
    # to start without CMS_SECURITY_TOTP_SECRETS; development keeps one in the instance folder, like the salt.
    SECURITY_TOTP_SECRETS: dict[str, str] | None = None
    SECURITY_TOTP_ISSUER = "Newsroom"
    TWO_FACTOR_ENCRYPT_COST = 14  # passlib's default: log2 of the PBKDF2 rounds that encrypt each stored key
    SECURITY_MULTI_FACTOR_RECOVERY_CODES = True
    SECURITY_MULTI_FACTOR_RECOVERY_CODES_N = 8
    # No code by mail instead of the app: a mailbox is not a second factor. Lost devices: a recovery code, or
    # an administrator resets the second factor in the console.
    SECURITY_TWO_FACTOR_RESCUE_EMAIL = False
    # Who gets the "Contact Administrator" request a member can send from the sign-in code page.
    SECURITY_TWO_FACTOR_RESCUE_MAIL = "administrator@cms.localhost"

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
    # The suite signs in many times from one address within a minute; the throttle tests set their own limits.
    LOGIN_LIMIT_PER_ADDRESS = "1000 per minute"
    LOGIN_LIMIT_PER_ACCOUNT = "1000 per minute"
    ACCOUNT_MAIL_LIMIT_PER_ADDRESS = "1000 per minute"
    ACCOUNT_MAIL_LIMIT_PER_ACCOUNT = "1000 per minute"
    SESSION_CLEANUP_N_REQUESTS = None  # no purge at random moments: statement counts stay exact
    # Tests send the outbox themselves (tests.support.mail) or start the worker they test.
    MAIL_WORKER = "none"
    TWO_FACTOR_ENCRYPT_COST = 1


class Production(Config):
    # gunicorn replaces each worker after max_requests: a new worker loads its templates before it takes a request.
    LOAD_TEMPLATES_AT_START = True
    FREEZE_OBJECTS_AT_START = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS_MAX_AGE = 365 * 24 * 3600


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
