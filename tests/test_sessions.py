"""Sessions end on the server: a copied cookie stops working at sign-out, after a password change and after
deactivation; sign-in gives a new session id; sessions expire and are purged. Each on both databases, with the
database store and (when CMS_TEST_REDIS_URL is set) the Redis store."""

import os
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import flask
import pytest
import sqlalchemy as sa
import time_machine
from alembic.script import ScriptDirectory
from flask_login.utils import encode_cookie
from flask_migrate import upgrade
from flask_security import hash_password

from cms.accounts import ensure_default_roles
from cms.cli import MIGRATIONS_DIR
from cms.comments import deactivate_authors
from cms.extensions import db
from cms.models import User, utcnow
from cms.sessions import ServerSession
from tests.factories import make_comment, make_post
from tests.support.database import backend_of, drop_everything, fresh, make_app
from tests.support.instances import instances
from tests.support.mail import sent_mail
from tests.support.web import PASSWORD, Browserish, csrf_token

# The migration before the one that moved sessions to the server (and renewed every fs_uniquifier).
BEFORE_SESSIONS = ScriptDirectory(MIGRATIONS_DIR).get_revision("5b8e2f3c1d7a").down_revision

REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")
COOKIE = "session"
NEEDS_REDIS = pytest.mark.skipif(not REDIS_URL, reason="needs CMS_TEST_REDIS_URL")


def _forget_redis_keys(prefix: str) -> None:
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@contextmanager
def instances_keeping_sessions_apart(app, tmp_path, count: int = 1, **config):
    """(instances, prefix): `count` instances of `app` on its database, keeping their sessions under a key prefix of
    their own (in Redis when CMS_TEST_REDIS_URL is set); the prefix's keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}-session:"
    try:
        with instances(app, tmp_path, count=count, SESSION_KEY_PREFIX=prefix, **config) as made:
            yield made, prefix
    finally:
        if REDIS_URL:
            _forget_redis_keys(prefix)


@pytest.fixture(params=["database", pytest.param("redis", marks=NEEDS_REDIS)])
def site(request, app, tmp_path):
    """The app under test: `app` itself (sessions in the database), or an instance on the same database keeping its
    sessions in Redis under a key prefix of its own."""
    if request.param == "database":
        yield app
        return
    with instances_keeping_sessions_apart(app, tmp_path) as ((made,), _):
        yield made


def browser(site, user: User | None = None, **login) -> Browserish:
    made = Browserish(site.test_client())
    if user is not None:
        made.login(user.email, **login)
    return made


def cookie_of(made: Browserish) -> str | None:
    cookie = made.get_cookie(COOKIE)
    return cookie.value if cookie is not None else None


def copy_of(made: Browserish, site) -> Browserish:
    """Another browser holding the same session cookie, as someone who copied it would."""
    other = Browserish(site.test_client())
    other.set_cookie(COOKIE, cookie_of(made))
    return other


def sees_console(made: Browserish) -> bool:
    """True when the console opens; False when the browser is sent to sign in (anything else fails)."""
    response = made.get("/admin/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.location, (response.status_code, response.location)
    return False


def console_edit(admin: Browserish, user: User, **changes):
    """Submit the console's form for `user` as shown, with `changes`; a change to None unticks or empties a field."""
    url = f"/admin/user/edit/?id={user.id}"
    values = {**admin.open_form(url), **changes}
    response = admin.post(url, data={k: v for k, v in values.items() if v is not None})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def change_password(made: Browserish, current: str, new: str):
    response = made.submit("/change", {"password": current, "new_password": new, "new_password_confirm": new})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def set_cookie_headers(response, name: str = COOKIE) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


# Sign-out


def test_a_cookie_copied_before_sign_out_gets_the_sign_in_page_after_it(site, users):
    editor = browser(site, users["editor"])
    copied = copy_of(editor, site)
    assert sees_console(copied), "the copy works while the session lives"

    editor.logout()

    assert not sees_console(copied)
    assert not sees_console(editor)


def test_signing_out_on_one_device_keeps_the_others_signed_in(site, users):
    laptop, phone = browser(site, users["editor"]), browser(site, users["editor"])
    laptop.logout()
    assert sees_console(phone)


def test_a_request_in_flight_at_sign_out_does_not_bring_the_session_back(site, users):
    editor = browser(site, users["editor"])
    copied = copy_of(editor, site)
    with site.test_request_context("/admin/", headers={"Cookie": f"{COOKIE}={cookie_of(editor)}"}):
        interface = site.session_interface
        in_flight = interface.open_session(site, flask.request)
        assert in_flight.get("_user_id") == users["editor"].fs_uniquifier

        editor.logout()
        in_flight["_flashes"] = [("message", "Saved.")]  # the slow request changed the session
        interface.save_session(site, in_flight, site.response_class())

    assert not sees_console(copied)


def test_sign_out_leaves_no_session_behind(app, users):
    editor = browser(app, users["editor"])
    sid = cookie_of(editor)
    assert fresh(sa.select(sa.func.count()).select_from(ServerSession)).scalar() == 1

    response = editor.logout()

    assert fresh(sa.select(sa.func.count()).select_from(ServerSession)).scalar() == 0
    assert any("Expires=Thu, 01 Jan 1970" in h for h in set_cookie_headers(response)), "the browser drops its cookie"
    assert cookie_of(editor) is None and sid


# Sign-in


def test_sign_in_gives_a_new_session_id_and_the_one_from_before_carries_nothing(site, users):
    visitor = browser(site)
    assert visitor.get("/login").status_code == 200
    planted = cookie_of(visitor)
    assert planted, "the sign-in form's CSRF token keeps an anonymous session"
    fixated = copy_of(visitor, site)

    visitor.login(users["editor"].email)

    assert cookie_of(visitor) != planted
    assert sees_console(visitor)
    assert not sees_console(fixated)


def test_the_session_cookie_is_samesite_lax_and_http_only(site, users):
    visitor = browser(site)
    form = visitor.get("/login")
    response = visitor.post("/login", data={"csrf_token": csrf_token(form.get_data(as_text=True)), "email": users["editor"].email,
                                            "password": PASSWORD})  # fmt: skip
    assert response.status_code == 302
    [header] = set_cookie_headers(response)
    assert "SameSite=Lax" in header and "HttpOnly" in header
    assert "Expires" not in header, "without remember me the cookie ends with the browser"


def test_remember_me_keeps_the_cookie_but_sign_out_still_ends_the_session(site, users):
    visitor = browser(site)
    response = visitor.post("/login", data={"csrf_token": visitor.token_for("/login"), "remember": "y",
                                            "email": users["reader"].email, "password": PASSWORD})  # fmt: skip
    assert response.status_code == 302
    [header] = set_cookie_headers(response)
    assert "Expires=" in header and "SameSite=Lax" in header, "the session outlives the browser"
    assert not set_cookie_headers(response, "remember_token"), "no cookie that names the account alone"
    copied = copy_of(visitor, site)

    visitor.logout()

    assert not sees_console(copied)


def test_remember_cookies_from_before_the_upgrade_sign_nobody_in(app, tmp_path):
    # A separate app on the same database URL, so the shared schema is rebuilt only for this test.
    old = make_app(backend_of(app), tmp_path)
    with old.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR, revision=BEFORE_SESSIONS)
        ensure_default_roles()
        # Written through the tables as they were then: the model has columns later migrations add.
        tables = sa.MetaData()
        tables.reflect(bind=db.engine, only=["user", "role", "roles_users"])
        legacy_uniquifier = uuid.uuid4().hex
        with db.engine.begin() as conn:
            user_id = conn.execute(
                sa.insert(tables.tables["user"]).values(
                    email="legacy@example.com",
                    username="legacy",
                    password=hash_password(PASSWORD),
                    active=True,
                    confirmed_at=utcnow(),
                    fs_uniquifier=legacy_uniquifier,
                    member_since=utcnow(),
                )
            ).inserted_primary_key[0]
            editor = conn.execute(sa.select(tables.tables["role"].c.id).where(tables.tables["role"].c.name == "Editor"))
            conn.execute(sa.insert(tables.tables["roles_users"]).values(user_id=user_id, role_id=editor.scalar_one()))
        with old.test_request_context():
            remember_cookie = encode_cookie(legacy_uniquifier)  # what Flask-Login gave a "remember me" sign-in

        upgrade(directory=MIGRATIONS_DIR)

        assert fresh(sa.select(User.fs_uniquifier).where(User.id == user_id)).scalar() != legacy_uniquifier
        visitor = Browserish(old.test_client())
        visitor.set_cookie("remember_token", remember_cookie)
        assert not sees_console(visitor)
        db.session.remove()


# Password changes


def test_a_password_change_ends_the_other_sessions_and_the_changer_stays_signed_in(site, users):
    changer, elsewhere = browser(site, users["editor"]), browser(site, users["editor"])
    copied_before = copy_of(changer, site)

    change_password(changer, PASSWORD, "a-brand-new-password")

    assert not sees_console(elsewhere)
    assert not sees_console(copied_before), "the changer's session has a new id"
    assert sees_console(changer)


def test_a_password_reset_ends_every_session(site, users):
    signed_in = browser(site, users["editor"])
    anonymous = browser(site)
    assert anonymous.submit("/reset", {"email": users["editor"].email}).status_code in (200, 302)
    link = re.search(r"http://localhost(/\S+)", sent_mail(site)[-1]["body"]).group(1)

    reset = anonymous.submit(link, {"password": "a-brand-new-password", "password_confirm": "a-brand-new-password"})

    assert reset.status_code == 302
    assert not sees_console(signed_in)
    assert not sees_console(anonymous), "a reset does not sign in (SECURITY_AUTO_LOGIN_AFTER_RESET is off)"
    anonymous.login(users["editor"].email, "a-brand-new-password")


def test_administrators_setting_their_own_password_in_the_console_stay_signed_in_there_only(site, users):
    admin, elsewhere = browser(site, users["administrator"]), browser(site, users["administrator"])
    copied_before = copy_of(admin, site)
    console_edit(admin, users["administrator"], new_password="my-own-new-password")
    assert sees_console(admin)
    assert not sees_console(elsewhere)
    assert not sees_console(copied_before), "the admin's session has a new id"


def test_an_unchanged_console_save_keeps_the_members_sessions(site, users):
    member, admin = browser(site, users["editor"]), browser(site, users["administrator"])
    console_edit(admin, users["editor"], name="Renamed")
    assert sees_console(member)


def test_an_address_changed_in_the_console_ends_the_members_sessions_and_the_reset_links_sent_before(site, users):
    """A reset link mailed to the old address still changed the password after an administrator gave the account
    another address: whoever held the old mailbox took the account over."""
    member, admin, anonymous = browser(site, users["editor"]), browser(site, users["administrator"]), browser(site)
    assert anonymous.submit("/reset", {"email": users["editor"].email}).status_code in (200, 302)
    link = re.search(r"http://localhost(/\S+)", sent_mail(site)[-1]["body"]).group(1)

    console_edit(admin, users["editor"], email="editor.new@example.org")

    assert not sees_console(member)
    refused = anonymous.get(link)  # Flask-Security sends an invalid link back to /reset
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/reset")
    browser(site).login("editor.new@example.org")  # the account's own password, unchanged, still signs in


def test_administrators_changing_their_own_address_stay_signed_in_there_only(site, users):
    admin, elsewhere = browser(site, users["administrator"]), browser(site, users["administrator"])
    console_edit(admin, users["administrator"], email="chief@example.org")
    assert sees_console(admin)
    assert not sees_console(elsewhere)


# Deactivation


def test_deactivation_in_the_console_ends_the_members_sessions_even_after_reactivation(site, users):
    member, admin = browser(site, users["editor"]), browser(site, users["administrator"])

    console_edit(admin, users["editor"], active=None)
    assert not sees_console(member)

    console_edit(admin, users["editor"], active="y")
    assert not sees_console(member), "reactivating the account does not bring its old sessions back"
    assert sees_console(browser(site, users["editor"]))


def test_comment_authors_deactivated_by_moderation_lose_their_sessions_for_good(site, users):
    author = browser(site, users["author"])
    comment = make_comment(users["author"], make_post(users["editor"], "published"))

    assert deactivate_authors([[comment.id]], users["administrator"]) == 1
    assert not sees_console(author)

    console_edit(browser(site, users["administrator"]), users["author"], active="y")
    assert not sees_console(author)


# Bad cookies


@pytest.mark.parametrize("value", ["", "x", "x" * 4000, "../../etc/passwd", "%00%ff", "a'; DROP TABLE user;--"])
def test_an_unknown_or_odd_session_cookie_is_an_anonymous_visit(site, value):
    visitor = Browserish(site.test_client())
    visitor.set_cookie(COOKIE, value)
    assert not sees_console(visitor)
    assert visitor.get("/login").status_code == 200


# Lifetimes and purging (the database store; Redis expires keys by their TTL, checked below)

NOW = datetime(2031, 3, 1, 12, 0, 0, tzinfo=UTC)


def _stored_expiry(sid: str) -> datetime | None:
    return fresh(sa.select(ServerSession.expiry).where(ServerSession.session_id == sid)).scalar()


def test_a_signed_in_session_lives_its_lifetime_after_its_last_request_and_not_a_second_more(app, users, monkeypatch):
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", 120)
    with time_machine.travel(NOW, tick=False) as clock:
        early, late = browser(app, users["editor"]), browser(app, users["editor"])
        clock.shift(119)
        assert sees_console(early)
        clock.shift(1)
        assert not sees_console(late)
        assert _stored_expiry(cookie_of(late)) is None, "an expired session that is read is deleted"
        assert sees_console(early), "early's request at 119 s moved its expiry"


def test_a_session_nobody_signed_in_to_lives_the_anonymous_lifetime(app, users, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_ANONYMOUS_LIFETIME", 30)
    email = users["reader"].email  # signed in by the password alone (staff have a second step)
    with time_machine.travel(NOW, tick=False) as clock:
        in_time, too_late = browser(app), browser(app)
        forms = {made: made.token_for("/login") for made in (in_time, too_late)}
        assert _stored_expiry(cookie_of(in_time)) == NOW.replace(tzinfo=None) + timedelta(seconds=30)
        clock.shift(29)
        signed_in = in_time.post("/login", data={"csrf_token": forms[in_time], "email": email, "password": PASSWORD})
        assert signed_in.status_code == 302
        assert (
            _stored_expiry(cookie_of(in_time))
            == (NOW + timedelta(seconds=29)).replace(tzinfo=None) + app.permanent_session_lifetime
        ), "signed in: the full lifetime"
        clock.shift(1)
        refused = too_late.post("/login", data={"csrf_token": forms[too_late], "email": email, "password": PASSWORD})
        assert refused.status_code == 400, "its form's CSRF token went with the session"
        assert "Sign out" not in too_late.get("/en/").get_data(as_text=True)
        assert "Sign out" in in_time.get("/en/").get_data(as_text=True)


def test_an_unchanged_session_is_rewritten_once_per_refresh_interval(app, users, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_REFRESH_INTERVAL", 60)
    lifetime = app.permanent_session_lifetime
    with time_machine.travel(NOW, tick=False) as clock:
        editor = browser(app, users["editor"])
        editor.get("/admin/")  # the console page's CSRF token changes the session once
        start = datetime.now(UTC).replace(tzinfo=None)
        sid = cookie_of(editor)
        assert _stored_expiry(sid) == start + lifetime
        clock.shift(59)
        assert sees_console(editor)
        assert _stored_expiry(sid) == start + lifetime, "59 s: not rewritten"
        clock.shift(1)
        assert sees_console(editor)
        assert _stored_expiry(sid) == start + timedelta(seconds=60) + lifetime, "60 s: rewritten"


def test_session_cleanup_deletes_sessions_expired_by_now_and_keeps_the_rest(app):
    now = NOW.replace(tzinfo=None)
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(ServerSession),
            [
                {"session_id": "expired-a-second-ago", "data": b"{}", "expiry": now - timedelta(seconds=1)},
                {"session_id": "expires-now", "data": b"{}", "expiry": now},
                {"session_id": "expires-in-a-second", "data": b"{}", "expiry": now + timedelta(seconds=1)},
            ],
        )
    with time_machine.travel(NOW, tick=False):
        result = app.test_cli_runner().invoke(args=["session_cleanup"])
    assert result.exit_code == 0, result.output
    assert fresh(sa.select(ServerSession.session_id)).scalars().all() == ["expires-in-a-second"]


@NEEDS_REDIS
def test_redis_keeps_each_session_for_its_lifetime_by_ttl(app, users, tmp_path):
    from redis import Redis

    lifetimes = {"PERMANENT_SESSION_LIFETIME": 600, "SESSION_ANONYMOUS_LIFETIME": 120}
    with instances_keeping_sessions_apart(app, tmp_path, **lifetimes) as ((made,), prefix):
        client = Redis.from_url(REDIS_URL)
        visitor = browser(made)
        visitor.get("/login")
        anonymous = cookie_of(visitor)
        assert 118 <= client.ttl(prefix + anonymous) <= 120
        visitor.login(users["editor"].email)
        assert 598 <= client.ttl(prefix + cookie_of(visitor)) <= 600
        assert not client.exists(prefix + anonymous), "the id from before the sign-in is deleted"
        visitor.logout()
        assert list(client.scan_iter(f"{prefix}*")) == []


# Several instances


def test_instances_share_sessions_and_a_sign_out_on_one_ends_it_on_the_other(app, users, tmp_path):
    with instances_keeping_sessions_apart(app, tmp_path, count=2) as ((a, b), _):
        on_a = browser(a, users["editor"])
        on_b = copy_of(on_a, b)
        assert sees_console(on_b), "B reads the session A stored"

        on_a.logout()

        assert not sees_console(on_b)


@NEEDS_REDIS
def test_redis_renews_an_unchanged_sessions_ttl_once_per_refresh_interval(app, users, tmp_path):
    """Read with its TTL in one round trip; written back only when it was last written SESSION_REFRESH_INTERVAL or
    more seconds ago (its age set here through the TTL left, since Redis keeps its own clock)."""
    from redis import Redis

    settings = {"PERMANENT_SESSION_LIFETIME": 600, "SESSION_REFRESH_INTERVAL": 60}
    with instances_keeping_sessions_apart(app, tmp_path, **settings) as ((made,), prefix):
        client = Redis.from_url(REDIS_URL)
        editor = browser(made, users["editor"])
        editor.get("/admin/")  # the console page's CSRF token changes the session once
        key = prefix + cookie_of(editor)
        client.pexpire(key, (600 - 59) * 1000)  # written 59 s ago
        assert sees_console(editor)
        assert client.pttl(key) <= (600 - 59) * 1000, "59 s: not written back"
        client.pexpire(key, (600 - 60) * 1000)  # written 60 s ago
        assert sees_console(editor)
        assert client.pttl(key) > (600 - 2) * 1000, "60 s: written back with the whole lifetime"
        data = client.get(key)
        assert sees_console(editor) and client.get(key) == data  # and the data is what it was
