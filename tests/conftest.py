"""Fixtures: an app per database (SQLite always, MariaDB when CMS_TEST_DATABASE_URL is set), rows, and clients."""

import shutil

import pytest
from flask_migrate import upgrade

from cms.accounts import create_user, ensure_default_roles
from cms.cli import MIGRATIONS_DIR
from cms.extensions import cache, db
from cms.i18n import TRANSLATIONS_DIR, compile_catalogs
from cms.throttle import limiter_of
from cms.two_factor import enrol_authenticator, must_set_up
from tests.support.browser import browser_engine, live_server, page  # noqa: F401  (one Chromium per test process)
from tests.support.database import BACKENDS, drop_everything, empty_tables, make_app
from tests.support.mail import SentMail
from tests.support.web import PASSWORD, TOTP_KEY, Browserish

ROLE_NAMES = ["Reader", "Author", "Editor", "Moderator", "Translator", "Administrator"]

_apps: dict[str, object] = {}


def pytest_sessionstart(session):
    """The app reads compiled catalogs (.mo), which git does not keep: build them as `cms init` does."""
    compile_catalogs()


def _session_app(backend: str, tmp_path_factory):
    if backend not in _apps:
        app = make_app(backend, tmp_path_factory.mktemp(backend))
        with app.app_context():
            drop_everything(db.engine)
            upgrade(directory=MIGRATIONS_DIR)
        _apps[backend] = app
    return _apps[backend]


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path_factory):
    """The app on one database, with the default roles and otherwise empty tables."""
    app = _session_app(request.param, tmp_path_factory)
    with app.app_context():
        empty_tables()
        cache.clear()  # the content version restarts with the emptied tables, so cached pages must go too
        limiter_of(app).reset()  # sign-in counts and pauses start afresh with the emptied accounts
        ensure_default_roles()
        app.extensions["cms.outbox"] = []
        yield app
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def catalog_dir(tmp_path):
    """A private copy of the project's committed translations folder, for an editor to work on or an app to be
    given as its CATALOG_SOURCE_DIR (a checkout of its own)."""
    target = tmp_path / "committed-translations"
    shutil.copytree(TRANSLATIONS_DIR, target, ignore=shutil.ignore_patterns("*.tmp"))
    return target


@pytest.fixture
def outbox(app):
    """The messages the app delivered (the outbox is sent at every look, as a worker would)."""
    return SentMail(app)


@pytest.fixture
def users(app):
    """One confirmed user per default role, keyed by role name in lower case; those whose role requires a second
    factor are enrolled with the authenticator key TOTP_KEY, so `Browserish.login` can type its code."""
    made = {}
    for name in ROLE_NAMES:
        made[name.lower()] = create_user(f"{name.lower()}@example.com", PASSWORD, [name], username=name.lower())
        if must_set_up(made[name.lower()]):  # staff whose role requires it hold an authenticator with TOTP_KEY
            enrol_authenticator(made[name.lower()], TOTP_KEY)
    return made


@pytest.fixture
def client(app):
    return Browserish(app.test_client())


@pytest.fixture
def login_as(app, users):
    """login_as('editor') gives a client signed in as that role's user; login_as(None) stays anonymous."""

    def make(role: str | None):
        browser = Browserish(app.test_client())
        if role:
            browser.login(users[role].email)
        return browser

    return make
