"""Apps with the account limits set small, on the test's database, counting in memory or in the real Redis
(CMS_TEST_REDIS_URL); and the account forms as a visitor fills them in."""

import contextlib
import os
import re
import uuid
from pathlib import Path

from cms.extensions import db
from tests.support.database import backend_of, make_app
from tests.support.web import Browserish

REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")
# Where the limits count: each process's memory, and Redis when the tests have one.
STORAGES = ["memory"] + (["redis"] if REDIS_URL else [])
# A password zxcvbn scores 4: accepted wherever a password is set.
GOOD_PASSWORD = "plum-ferry-asterisk-nine"


@contextlib.contextmanager
def limited_apps(app, tmp_path: Path, storage: str, count: int = 1, **settings):
    """`count` apps on `app`'s database sharing one limits storage (`storage`: "memory" gives each its own, as
    separate processes have; "redis" is shared) under a key prefix of their own, with `settings` on top."""
    run = uuid.uuid4().hex[:12]
    shared = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "RATELIMIT_KEY_PREFIX": f"test-{run}"}
    if storage == "redis":
        shared.update(REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=f"test-{run}-")
    made = [make_app(backend_of(app), tmp_path / f"{run}-{n}", **shared, **settings) for n in range(count)]
    for instance in made:
        instance.extensions["cms.outbox"] = []
    try:
        yield made
    finally:
        for instance in made:
            with instance.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()


def visitor(app, address: str = "192.0.2.1") -> Browserish:
    """A browser on `app` whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browserish(client)


# The account forms a visitor can send for an email they type in: path → the fields besides the email.
MAIL_FORMS = {
    "/register": lambda n: {"username": f"person{n}", "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD},
    "/reset": lambda n: {},
    "/confirm": lambda n: {},
}


def send_form(browser: Browserish, path: str, email: str, n: int = 0, **kwargs):
    """Fill in the form at `path` for `email` (a wrong password on /login; `n` makes a registration unique) and
    send it; `kwargs` go to the POST (headers…)."""
    fields = {"password": "not-the-password-9"} if path == "/login" else MAIL_FORMS[path](n)
    return browser.submit(path, {"email": email, **fields}, **kwargs)


def page_text(response, *secrets: str) -> str:
    """The page as a visitor reads it, with its CSRF token and the given strings (what they typed) blanked."""
    html = response.get_data(as_text=True)
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1TOKEN", html)
    for secret in secrets:
        html = html.replace(secret, "TYPED")
    return html
