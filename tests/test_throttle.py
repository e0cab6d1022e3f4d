"""Limits on the account forms (cms/throttle.py): per client address and per account, each at its boundary,
counted in memory and in Redis, answered with a translated 429 page and never a 500."""

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine
from flask_babel import force_locale

from cms.models import AuditLog, User
from cms.throttle import form_wait, sign_in_wait
from tests.support.accounts import GOOD_PASSWORD, STORAGES, limited_apps, send_form, visitor
from tests.support.database import fresh
from tests.support.mail import sent_mail
from tests.support.web import PASSWORD, Browserish, totp_code

SIGN_IN_WAIT = "Too many sign-in attempts. Try again in 1 minute."
FORM_WAIT = "This form was sent too many times. Try again in 1 minute."


@pytest.fixture(params=STORAGES)
def storage(request):
    return request.param


# form, the setting, what one visitor varies between requests (the other limit's key), the message
LIMITS = [
    ("/login", "LOGIN_LIMIT_PER_ADDRESS", "account", SIGN_IN_WAIT),
    ("/login", "LOGIN_LIMIT_PER_ACCOUNT", "address", SIGN_IN_WAIT),
    ("/register", "ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "account", FORM_WAIT),
    ("/register", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT", "address", FORM_WAIT),
    ("/reset", "ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "account", FORM_WAIT),
    ("/reset", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT", "address", FORM_WAIT),
    ("/confirm", "ACCOUNT_MAIL_LIMIT_PER_ADDRESS", "account", FORM_WAIT),
    ("/confirm", "ACCOUNT_MAIL_LIMIT_PER_ACCOUNT", "address", FORM_WAIT),
]


@pytest.mark.parametrize(("path", "setting", "varies", "message"), LIMITS, ids=[f"{p}-{s}" for p, s, _, _ in LIMITS])
def test_a_form_is_answered_up_to_its_limit_and_refused_with_429_one_past_it(
    app, tmp_path, storage, users, path, setting, varies, message
):
    with limited_apps(app, tmp_path, storage, **{setting: "3 per minute"}) as [limited]:

        def send(n: int):
            address = f"192.0.2.{n + 1}" if varies == "address" else "192.0.2.1"
            email = f"person{n}@example.com" if varies == "account" else "reader@example.com"
            return send_form(visitor(limited, address), path, email, n)

        answered = [send(n).status_code for n in range(3)]
        assert 429 not in answered, answered
        refused = send(3)
        assert refused.status_code == 429
        html = refused.get_data(as_text=True)
        assert "Too many requests" in html and message in html
        assert "Retry-After" in refused.headers
        # The limit counts one address (or one account): another one is still answered.
        other = send_form(visitor(limited, "198.51.100.7"), path, "someone.else@example.com", 99)
        assert other.status_code != 429


def test_current_passwords_tried_at_change_are_answered_up_to_the_limit_and_refused_one_past_it(
    app, tmp_path, storage, users
):
    """/change asks for the current password and counted nothing: a session taken over could try passwords there
    without end."""
    with limited_apps(app, tmp_path, storage, LOGIN_LIMIT_PER_ADDRESS="3 per minute") as [limited]:
        reader = visitor(limited)
        reader.login(users["reader"].email)
        fields = {
            "password": "not-the-password-9",
            "new_password": GOOD_PASSWORD,
            "new_password_confirm": GOOD_PASSWORD,
        }
        answered = [reader.submit("/change", fields).status_code for _ in range(3)]
        assert 429 not in answered, answered
        refused = reader.submit("/change", fields)
        assert refused.status_code == 429 and SIGN_IN_WAIT in refused.get_data(as_text=True)


# The second steps of signing in, where a code is typed: the path, how it says a code is wrong.
CODE_STEPS = [("/tf-validate", "Invalid code"), ("/mf-recovery", "Recovery code invalid")]


@pytest.mark.parametrize(("step", "invalid"), CODE_STEPS, ids=["authenticator-code", "recovery-code"])
def test_codes_for_one_account_are_answered_up_to_its_limit_from_any_address_and_refused_one_past_it(
    app, tmp_path, storage, users, login_as, step, invalid
):
    """Someone holding the editor's password guesses their codes from a new address each time: the account's limit
    stops them (even for the right authenticator code), while another account's code step is still answered."""
    if step == "/mf-recovery":  # offered to accounts that made recovery codes
        for role in ("editor", "moderator"):
            login_as(role).submit("/mf-recovery-codes", {"generate_new_codes": "Generate New Recovery Codes"})
    with limited_apps(app, tmp_path, storage, LOGIN_LIMIT_PER_ACCOUNT="3 per minute") as [limited]:

        def reach_the_step(browser, email: str) -> None:
            assert browser.submit("/login", {"email": email, "password": PASSWORD}).status_code == 302
            if step == "/mf-recovery":
                assert browser.submit("/tf-rescue", {"help_setup": "recovery_code"}).location == step

        guesser = visitor(limited)
        reach_the_step(guesser, users["editor"].email)

        def code(n: int, right: bool = False):
            guesser.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
            return guesser.submit(step, {"code": totp_code() if right else wrong_code()})

        answered = [code(n) for n in range(3)]
        assert [r.status_code for r in answered] == [200] * 3
        assert all(invalid in r.get_data(as_text=True) for r in answered)
        refused = code(3, right=step == "/tf-validate")
        assert refused.status_code == 429 and SIGN_IN_WAIT in refused.get_data(as_text=True)
        assert guesser.get("/admin/").status_code == 302, "not signed in"
        other = visitor(limited, "198.51.100.1")  # an address the guesser used: the per-address limit is not the one
        reach_the_step(other, users["moderator"].email)
        assert other.submit(step, {"code": wrong_code()}).status_code == 200


def wrong_code() -> str:
    return f"{(int(totp_code()) + 500_000) % 1_000_000:06d}"


def test_only_posts_are_counted(app, tmp_path, storage):
    with limited_apps(app, tmp_path, storage, LOGIN_LIMIT_PER_ADDRESS="2 per minute") as [limited]:
        browser = visitor(limited)
        assert [browser.get("/login").status_code for _ in range(5)] == [200] * 5
        assert send_form(browser, "/login", "a@example.com").status_code == 200


def test_fifty_wrong_passwords_then_the_right_one_does_not_sign_in(app, tmp_path, storage, users):
    """The attack from the issue, with the settings' real values."""
    with limited_apps(app, tmp_path, storage, LOGIN_LIMIT_PER_ACCOUNT="10 per minute; 50 per hour") as [limited]:
        browser = visitor(limited)
        statuses = [send_form(browser, "/login", "editor@example.com").status_code for _ in range(50)]
        assert 429 in statuses
        last = browser.submit("/login", {"email": "editor@example.com", "password": PASSWORD})
        assert last.status_code == 429
        assert "Sign out" not in browser.get("/en/").get_data(as_text=True)


def test_instances_sharing_redis_count_together(app, tmp_path):
    if "redis" not in STORAGES:
        pytest.skip("needs CMS_TEST_REDIS_URL")
    with limited_apps(app, tmp_path, "redis", count=2, LOGIN_LIMIT_PER_ADDRESS="3 per minute") as [first, second]:
        assert [send_form(visitor(first), "/login", f"p{n}@example.com").status_code for n in range(2)] == [200, 200]
        assert send_form(visitor(second), "/login", "p2@example.com").status_code == 200
        assert send_form(visitor(first), "/login", "p3@example.com").status_code == 429


def test_an_unreachable_redis_never_fails_a_sign_in(app, tmp_path, users):
    with limited_apps(
        app, tmp_path, "memory", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", LOGIN_LOCKOUT_FAILURES=2
    ) as [limited]:
        browser = visitor(limited)
        assert send_form(browser, "/login", "nobody@example.com").status_code == 200
        browser.login("reader@example.com")
        browser.logout()
        # The lock of a real account lives in the database and still holds.
        assert [send_form(browser, "/login", "editor@example.com").status_code for _ in range(3)] == [200, 200, 429]


def test_the_429_page_is_in_the_visitors_language(app, tmp_path, storage):
    with limited_apps(app, tmp_path, storage, LOGIN_LIMIT_PER_ADDRESS="1 per minute") as [limited]:
        browser = Browserish(limited.test_client())
        browser.submit("/login?lang=zh", {"email": "a@example.com", "password": "x"})
        refused = browser.submit("/login?lang=zh", {"email": "b@example.com", "password": "x"})
        assert refused.status_code == 429
        with limited.test_request_context("/login?lang=zh"), force_locale("zh"):
            expected = sign_in_wait()
        html = refused.get_data(as_text=True)
        assert '<html lang="zh"' in html and expected in html


def test_an_api_client_over_the_limit_gets_json(app, tmp_path, storage):
    with limited_apps(app, tmp_path, storage, ACCOUNT_MAIL_LIMIT_PER_ADDRESS="1 per minute") as [limited]:
        browser = visitor(limited)
        token = browser.csrf()
        headers = {"Accept": "application/json", "X-CSRFToken": token}
        browser.post("/reset", json={"email": "a@example.com"}, headers=headers)
        refused = browser.post("/reset", json={"email": "b@example.com"}, headers=headers)
        assert refused.status_code == 429
        with limited.test_request_context("/reset"):
            assert refused.get_json()["error"]["description"] == form_wait()


def test_registration_over_the_limit_creates_no_account(app, tmp_path, storage):
    with limited_apps(app, tmp_path, storage, ACCOUNT_MAIL_LIMIT_PER_ADDRESS="1 per minute") as [limited]:
        browser = visitor(limited)
        assert send_form(browser, "/register", "first@example.com", 1).status_code == 302
        assert send_form(browser, "/register", "second@example.com", 2).status_code == 429
    assert list(fresh(sa.select(User.email)).scalars()) == ["first@example.com"]


# -- the lock after repeated failed sign-ins ----------------------------------------------------------------
LOCKED = "Too many failed sign-ins for this account: signing in to it is paused for 10 minutes."
LOCK_SECONDS = 600
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def wrong(browser, email: str = "editor@example.com"):
    return send_form(browser, "/login", email)


def right(browser, email: str = "editor@example.com", password: str = PASSWORD):
    return browser.submit("/login", {"email": email, "password": password})


def signed_in(browser) -> bool:
    return "Sign out" in browser.get("/en/").get_data(as_text=True)


def test_lockout_failures_lock_the_account_and_then_even_the_right_password_is_refused(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        browser = visitor(limited)
        # One failure fewer than the setting: the right password and code sign in, and the count starts again.
        assert [wrong(browser).status_code for _ in range(2)] == [200, 200]
        assert urlsplit(right(browser).location).path == "/tf-validate"
        assert browser.submit("/tf-validate", {"code": totp_code()}).status_code == 302
        assert signed_in(browser)
        browser.logout()
        assert [wrong(browser).status_code for _ in range(3)] == [200, 200, 200]
        refused = right(browser)
        assert refused.status_code == 429
        assert LOCKED in refused.get_data(as_text=True)
        assert not signed_in(browser)

        editor = fresh(sa.select(User).where(User.email == "editor@example.com")).scalar_one()
        assert editor.locked_until is not None and editor.failed_logins == 0
        [notice] = [mail for mail in sent_mail(limited) if mail["to"] == "editor@example.com"]
        assert notice["subject"] == "Sign-in to your account is locked for now"
        assert "3 failed attempts" in notice["body"] and "http://localhost/reset" in notice["body"]
        actions = fresh(sa.select(AuditLog.action).where(AuditLog.object_id == str(editor.id))).scalars().all()
        assert actions.count("lock") == 1


@pytest.mark.parametrize(
    "spelling",
    ["editor@examplｅ.com", "EDITOR@Example.COM", "ｅditor"],  # a full-width letter; upper case; a username
    ids=["full-width-domain", "case", "full-width-username"],
)
def test_another_spelling_of_a_locked_accounts_name_is_the_same_locked_account(app, tmp_path, storage, users, spelling):
    """Flask-Security finds the account by its normalised name (IDNA for an address's domain, NFKC for a
    username): such a spelling signed in while the account was locked, and its failures were counted apart."""
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=2) as [limited]:
        browser = visitor(limited)
        field = "username" if "@" not in spelling else "email"
        assert wrong(browser).status_code == 200
        second = browser.submit("/login", {field: spelling, "password": "not-the-password-9"})
        assert second.status_code == 200  # the second failure, under the other spelling, locks the account
        editor = fresh(sa.select(User).where(User.email == "editor@example.com")).scalar_one()
        assert editor.locked_until is not None
        refused = browser.submit("/login", {field: spelling, "password": PASSWORD})
        assert refused.status_code == 429 and not signed_in(browser)


def test_a_failure_after_the_lock_is_sent_no_second_notice(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=2) as [limited]:
        browser = visitor(limited)
        assert [wrong(browser).status_code for _ in range(5)] == [200, 200, 429, 429, 429]
        assert len([m for m in sent_mail(limited) if m["to"] == "editor@example.com"]) == 1


@pytest.mark.parametrize(("waited", "status"), [(LOCK_SECONDS - 1, 429), (LOCK_SECONDS, 302)], ids=["before", "at"])
def test_the_lock_lasts_lockout_seconds(app, tmp_path, storage, users, waited, status):
    with (
        limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [limited],
        time_machine.travel(START, tick=False) as clock,
    ):
        browser = visitor(limited)
        for _ in range(3):
            wrong(browser)
        clock.shift(waited)
        assert right(browser).status_code == status


@pytest.mark.parametrize(("gap", "status"), [(LOCK_SECONDS - 1, 429), (LOCK_SECONDS, 302)], ids=["within", "after"])
def test_failures_count_towards_a_lock_for_lockout_seconds_from_the_first(app, tmp_path, storage, users, gap, status):
    with (
        limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [limited],
        time_machine.travel(START, tick=False) as clock,
    ):
        browser = visitor(limited)
        wrong(browser)
        wrong(browser)
        clock.shift(gap)
        wrong(browser)  # the third within the span locks; after it, it is the first of a new count
        assert right(browser).status_code == status


def test_a_password_reset_ends_the_lock(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=2) as [limited]:
        browser = visitor(limited)
        wrong(browser)
        wrong(browser)
        assert right(browser).status_code == 429
        browser.submit("/reset", {"email": "editor@example.com"})
        reset_mail = sent_mail(limited)[-1]
        link = re.search(r"http://localhost(/reset/\S+)", reset_mail["body"]).group(1)
        assert browser.submit(link, {"password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}).status_code == 302
        unlocked = right(browser, password=GOOD_PASSWORD)
        assert unlocked.status_code == 302 and urlsplit(unlocked.location).path == "/tf-validate"  # staff: the code
        assert browser.submit(unlocked.location, {"code": totp_code()}).status_code == 302
        assert signed_in(browser)


def test_an_administrator_sees_a_lock_and_ends_it(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=2) as [limited]:
        browser = visitor(limited)
        wrong(browser)
        wrong(browser)
        admin = visitor(limited, "203.0.113.9")
        admin.login("administrator@example.com")
        listing = admin.get("/admin/user/").get_data(as_text=True)
        assert "Sign-in locked until (UTC)" in listing
        editor_id = users["editor"].id
        done = admin.post(
            "/admin/user/action/", data={"action": "unlock", "rowid": [editor_id], "csrf_token": admin.csrf()},
            follow_redirects=True,
        )  # fmt: skip
        assert "1 account unlocked." in done.get_data(as_text=True)
        assert right(browser).status_code == 302
        actions = fresh(sa.select(AuditLog.action).where(AuditLog.object_id == str(editor_id))).scalars().all()
        assert {"lock", "unlock"} <= set(actions)


@pytest.mark.parametrize(("proxies", "status"), [(0, 429), (1, 200)], ids=["no-proxy", "one-proxy"])
def test_behind_trusted_proxies_the_forwarded_client_address_is_counted(app, tmp_path, proxies, status):
    with limited_apps(app, tmp_path, "memory", LOGIN_LIMIT_PER_ADDRESS="1 per minute", TRUSTED_PROXIES=proxies) as [
        limited
    ]:
        balancer = visitor(limited, "10.0.0.1")  # every request arrives from the load balancer
        first = {"X-Forwarded-For": "198.51.100.1"}
        assert send_form(balancer, "/login", "a@example.com", headers=first).status_code == 200
        second = {"X-Forwarded-For": "198.51.100.2"}
        assert send_form(balancer, "/login", "b@example.com", headers=second).status_code == status


# -- second-factor codes count towards the lock -------------------------------------------------------------
def reach_code_step(browser, step: str) -> None:
    """The editor's right password, then the step where a code is typed (the recovery-code form from /tf-rescue)."""
    assert urlsplit(right(browser).location).path == "/tf-validate"
    if step == "/mf-recovery":
        assert browser.submit("/tf-rescue", {"help_setup": "recovery_code"}).location == step


@pytest.fixture
def recovery_codes(login_as):
    """The editor has made recovery codes, so /mf-recovery is offered to them."""
    login_as("editor").submit("/mf-recovery-codes", {"generate_new_codes": "Generate New Recovery Codes"})


@pytest.mark.parametrize(("step", "invalid"), CODE_STEPS, ids=["authenticator-code", "recovery-code"])
def test_wrong_codes_lock_the_account_and_then_even_the_right_code_is_refused(
    app, tmp_path, storage, users, recovery_codes, step, invalid
):
    """Someone holding the editor's password, guessing their codes: the lock stops them as it stops password
    guesses (the per-account rate limit, tested above, only slows them down)."""
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        guesser = visitor(limited)
        reach_code_step(guesser, step)
        guesses = [guesser.submit(step, {"code": wrong_code()}) for _ in range(3)]
        assert [r.status_code for r in guesses] == [200] * 3
        assert all(invalid in r.get_data(as_text=True) for r in guesses)
        refused = guesser.submit(step, {"code": totp_code() if step == "/tf-validate" else wrong_code()})
        assert refused.status_code == 429
        assert LOCKED in refused.get_data(as_text=True)
        assert not signed_in(guesser)
        assert right(visitor(limited, "198.51.100.9")).status_code == 429  # the password is refused too

        editor = fresh(sa.select(User).where(User.email == "editor@example.com")).scalar_one()
        assert editor.locked_until is not None
        [notice] = [mail for mail in sent_mail(limited) if mail["to"] == "editor@example.com"]
        assert "3 failed attempts" in notice["body"]
        actions = fresh(sa.select(AuditLog.action).where(AuditLog.object_id == str(editor.id))).scalars().all()
        assert actions.count("lock") == 1


# The forms that ask a signed-in person for the account's password again: the path, the fields with the password.
PASSWORD_CHECKS = [
    ("/verify", lambda password: {"password": password}),
    ("/change", lambda password: {"password": password, "new_password": GOOD_PASSWORD,
                                  "new_password_confirm": GOOD_PASSWORD}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "fields"), PASSWORD_CHECKS, ids=["verify", "change"])
def test_wrong_passwords_at_verify_and_change_lock_the_account_as_at_sign_in(
    app, tmp_path, storage, users, path, fields
):
    """A session taken over could try the account's password at /verify or /change outside the lock: each wrong one
    now counts, and once locked even the right one is refused there and at sign-in."""
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        reader = visitor(limited)
        reader.login(users["reader"].email)
        guesses = [reader.submit(path, fields("not-the-password-9")) for _ in range(3)]
        assert [r.status_code for r in guesses] == [200] * 3
        refused = reader.submit(path, fields(PASSWORD))
        assert refused.status_code == 429 and LOCKED in refused.get_data(as_text=True)
        account = fresh(sa.select(User).where(User.email == users["reader"].email)).scalar_one()
        assert account.locked_until is not None and account.password == users["reader"].password
        assert right(visitor(limited, "198.51.100.9"), users["reader"].email).status_code == 429


def test_a_new_password_refused_at_change_is_not_a_failed_sign_in(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=2, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        reader = visitor(limited)
        reader.login(users["reader"].email)
        short = {"password": PASSWORD, "new_password": "short", "new_password_confirm": "short"}
        assert [reader.submit("/change", short).status_code for _ in range(3)] == [200] * 3
        account = fresh(sa.select(User).where(User.email == users["reader"].email)).scalar_one()
        assert account.locked_until is None and not account.failed_logins
        changed = reader.submit("/change", {"password": PASSWORD, "new_password": GOOD_PASSWORD,
                                            "new_password_confirm": GOOD_PASSWORD})  # fmt: skip
        assert changed.status_code == 302


def test_the_right_password_between_wrong_codes_does_not_start_the_count_again(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        first = visitor(limited)
        reach_code_step(first, "/tf-validate")
        assert [first.submit("/tf-validate", {"code": wrong_code()}).status_code for _ in range(2)] == [200, 200]
        second = visitor(limited)  # the password again, for a fresh code step
        reach_code_step(second, "/tf-validate")
        assert second.submit("/tf-validate", {"code": wrong_code()}).status_code == 200  # the third failure
        assert second.submit("/tf-validate", {"code": totp_code()}).status_code == 429
        assert right(visitor(limited)).status_code == 429


def test_a_completed_sign_in_forgets_earlier_wrong_codes(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=LOCK_SECONDS) as [
        limited
    ]:
        browser = visitor(limited)
        for _ in range(2):
            reach_code_step(browser, "/tf-validate")
            assert [browser.submit("/tf-validate", {"code": wrong_code()}).status_code for _ in range(2)] == [200] * 2
            assert browser.submit("/tf-validate", {"code": totp_code()}).status_code == 302
            assert signed_in(browser)
            browser.logout()
        editor = fresh(sa.select(User).where(User.email == "editor@example.com")).scalar_one()
        assert editor.locked_until is None and editor.failed_logins == 0
