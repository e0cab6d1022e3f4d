"""The newsroom back office: the application factory, which names everything the app is made of."""

import json
import logging
from pathlib import Path

import flask_excel as excel
import sqlalchemy as sa
from flask import Flask
from flask_babel import get_locale
from flask_security import current_user
from flask_uploads import configure_uploads
from pymysql.constants import SERVER_STATUS
from sqlalchemy import event
from sqlalchemy.engine import Engine

import settings
from cms import (
    accounts,
    audit,
    catalog_store,
    comment_counts,
    errors,
    gc_freeze,
    headers,
    i18n,
    outages,
    outbox,
    page_cache,
    permissions,
    post_counts,
    read_ceiling,
    routing,
    sessions,
    status_counts,
    template_cache,
    throttle,
    translated_markup,
    two_factor,
)
from cms.extensions import REPLICA, babel, cache, csrf, db, migrate, new_security
from cms.locale import language_name, locale_name, select_locale, supported_locales, switch_url, upload_limit
from cms.markup import stored_html
from cms.media import images
from cms.models import CommentStatus, ExportStatus, PostStatus, Role, User, utcnow
from cms.timestamps import timestamp


def create_app(config_name: str | None = None, **overrides) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    configure(app, config_name, overrides)
    routing.init_app(app)  # before any route
    register_extensions(app)
    register_blueprints(app)
    register_admin(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    register_request_hooks(app)
    template_cache.init_app(app)  # every loader and template extension is in place
    gc_freeze.init_app(app)  # last: what the app built lives as long as the process
    return app


def configure(app: Flask, config_name: str | None, overrides: dict) -> None:
    """settings.py's class, then CMS_… environment variables, then explicit overrides."""
    app.config.from_object(settings.config_class(config_name))
    app.config.from_prefixed_env("CMS")
    app.config.update(overrides)
    config = app.config

    production = config_name == "production" or settings.config_class(config_name) is settings.Production
    if not config.get("SECRET_KEY"):
        if production:
            raise RuntimeError("Production needs CMS_SECRET_KEY set to a long random value.")
        config["SECRET_KEY"] = settings.instance_secret(app.instance_path, "secret_key")
    if not config.get("SECURITY_PASSWORD_SALT"):
        if production:
            raise RuntimeError(
                "Production needs CMS_SECURITY_PASSWORD_SALT set to a long random value, kept for good (passwords"
                " are checked with it). A database from before this setting: set it to cms-salt:<the secret key it"
                " used>, which is what the salt was then (docs/deploy.md)."
            )
        # The salt an instance folder has always had: derived from its first key, so older databases keep working.
        first = f"cms-salt:{config['SECRET_KEY']}"
        config["SECURITY_PASSWORD_SALT"] = settings.instance_secret(app.instance_path, "password_salt", first)
    if isinstance(config.get("SECURITY_TOTP_SECRETS"), str):  # JSON given as a plain override, not from CMS_…
        config["SECURITY_TOTP_SECRETS"] = json.loads(config["SECURITY_TOTP_SECRETS"])
    if not config.get("SECURITY_TOTP_SECRETS"):
        if production:
            raise RuntimeError(
                'Production needs CMS_SECURITY_TOTP_SECRETS set, e.g. {"1": "<long random value>"}, kept for good'
                " (the staff's authenticator keys are encrypted with it)."
            )
        # Like the salt, a secret of its own in the instance folder: rotating the key keeps every authenticator.
        config["SECURITY_TOTP_SECRETS"] = {"1": settings.instance_secret(app.instance_path, "totp_secret")}

    url = config.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'cms.db'}"
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith(("mysql", "mariadb")):
        # Reconnect quietly after MariaDB's wait_timeout (default 8 h) closes idle connections. READ COMMITTED:
        # a request, a job or a worker always reads what others committed, never an older snapshot. A connection
        # going back to the pool is rolled back only when the server says a transaction is open on it
        # (`end_open_transaction`), not a second time after the session's own rollback.
        config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {
                "pool_pre_ping": True,
                "pool_recycle": 280,
                "isolation_level": "READ COMMITTED",
                **({"pool_reset_on_return": None} if sa.engine.make_url(url).get_driver_name() == "pymysql" else {}),
            },
        )

    if config.get("DATABASE_REPLICA_URL"):  # an extra engine, used only by cms.extensions.RoutingSession
        config["SQLALCHEMY_BINDS"] = {**config.get("SQLALCHEMY_BINDS", {}), REPLICA: config["DATABASE_REPLICA_URL"]}

    config["BABEL_DEFAULT_LOCALE"] = config["DEFAULT_LOCALE"]
    config["EXPORTS_DIR"] = config.get("EXPORTS_DIR") or str(Path(app.instance_path) / "exports")
    config["IMPORTS_DIR"] = config.get("IMPORTS_DIR") or str(Path(app.instance_path) / "imports")
    config["CATALOG_BUILD_DIR"] = config.get("CATALOG_BUILD_DIR") or str(Path(app.instance_path) / "translations")
    if config.get("TEMPLATE_CACHE_DIR") is None:
        config["TEMPLATE_CACHE_DIR"] = str(Path(app.instance_path) / "template-cache")
    # The build cms.catalog_store serves: a link switched to each new build once it is complete.
    config["BABEL_TRANSLATION_DIRECTORIES"] = str(i18n.served_dir(Path(config["CATALOG_BUILD_DIR"])))
    config["UPLOADED_IMAGES_DEST"] = str(Path(config["UPLOADS_DIR"]) / "images")
    config["UPLOADED_IMAGES_URL"] = "/media/images/"
    if config.get("REDIS_URL"):
        config.setdefault("CACHE_TYPE", "cms.outages.TolerantRedisCache")  # Redis down: misses, not errors
        config.setdefault("CACHE_REDIS_URL", config["REDIS_URL"])
    else:
        config.setdefault("CACHE_TYPE", "SimpleCache")
    logging.basicConfig(level=logging.INFO)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, connection_record) -> None:
    """SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def end_open_transaction(dbapi_connection, connection_record, reset_state) -> None:
    """The reset of a MariaDB connection returning to the pool (SQLAlchemy's "reset" event, with
    pool_reset_on_return=None): ROLLBACK when PyMySQL's last reply from the server says a transaction is open (on
    a connection of another driver, always).
    A request's session has already rolled back or committed when it closes, and SQLAlchemy's own reset sent a
    second ROLLBACK on every return: one round trip of the seven a console page made."""
    status = getattr(dbapi_connection, "server_status", None)
    if status is None or status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
        dbapi_connection.rollback()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    if app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("pool_reset_on_return", "rollback") is None:
        with app.app_context():
            for engine in db.engines.values():  # the options are every bind's, the replica's too
                event.listen(engine, "reset", end_open_transaction)
    read_ceiling.init_app(app)
    excel.init_excel(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).resolve().parent.parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)  # before Flask-Security, which relies on it
    babel.init_app(app, locale_selector=select_locale)
    cache.init_app(app)
    new_security().init_app(
        app,
        accounts.AccountStore(db, User, Role),
        login_form=throttle.LockingLoginForm,
        two_factor_verify_code_form=throttle.LockingCodeForm,
        mf_recovery_form=throttle.LockingRecoveryForm,
        verify_form=throttle.LockingVerifyForm,
        change_password_form=throttle.LockingChangePasswordForm,
    )
    throttle.init_app(app)  # limits the forms Security registered
    sessions.init_app(app)
    two_factor.init_app(app)
    configure_uploads(app, (images,))
    accounts.connect_signals()
    outbox.init_app(app)
    audit.listen()
    page_cache.listen()
    status_counts.listen(comment_counts.COMMENTS, comment_counts.COMMENT_DAYS, post_counts.POSTS)
    outages.listen()


def register_blueprints(app: Flask) -> None:
    from cms.api import bp as api_bp
    from cms.public import bp as public_bp
    from cms.public import site_bp

    app.register_blueprint(site_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)


def register_admin(app: Flask) -> None:
    from admin_views import init_admin

    with app.app_context():  # views read settings (e.g. the locales) while they build their filters
        init_admin(app)


def register_errorhandlers(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException

    app.register_error_handler(HTTPException, errors.render_error)
    for outage in outages.OUTAGE_TYPES:  # a 503 page while MariaDB or Redis is not answering, in testing too
        app.register_error_handler(outage, errors.handle_outage)
    if not any(isinstance(f, errors.OutageLogLine) for f in app.logger.filters):
        app.logger.addFilter(errors.OutageLogLine())
    if not app.config.get("TESTING"):
        app.register_error_handler(Exception, errors.handle_unexpected)


def register_commands(app: Flask) -> None:
    from cms.cli import cms_cli

    app.cli.add_command(cms_cli)


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(stored_html)
    app.add_template_filter(locale_name)
    app.add_template_filter(language_name)
    app.add_template_filter(timestamp)
    translated_markup.init_app(app)
    app.jinja_env.globals.update(CommentStatus=CommentStatus, ExportStatus=ExportStatus, PostStatus=PostStatus)

    @app.context_processor
    def inject_helpers() -> dict:
        return {
            **permissions.template_helpers(),
            "current_locale": str(get_locale() or app.config["DEFAULT_LOCALE"]),
            "supported_locales": supported_locales(),
            "switch_url": switch_url,
            "upload_limit": upload_limit,
        }


def register_request_hooks(app: Flask) -> None:
    page_cache.register(app)
    catalog_store.init_app(app)
    headers.init_app(app)

    @app.before_request
    def record_last_seen() -> None:
        if current_user.is_authenticated:
            now = utcnow()
            if current_user.last_seen is None or (now - current_user.last_seen).total_seconds() > 300:
                current_user.last_seen = now
                db.session.commit()
