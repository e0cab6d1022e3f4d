"""No answer tells a known email (or username) from an unknown one: sign-in, registration, password reset and
confirmation give the same status, message and page for both, and so do the limits and the lock. Only the
owner of a known address learns, by mail, that someone used it."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from cms.extensions import db
from cms.models import User
from tests.support.accounts import GOOD_PASSWORD, STORAGES, limited_apps, page_text, send_form, visitor
from tests.support.database import fresh
from tests.support.mail import sent_mail
from tests.support.web import Browserish

KNOWN, UNKNOWN = "reader@example.com", "nobody@example.com"


def answer(app, path: str, data: dict, follow: bool = False):
    return Browserish(app.test_client()).submit(path, data, follow_redirects=follow)


def assert_same(known, unknown, known_typed: tuple, unknown_typed: tuple) -> None:
    assert known.status_code == unknown.status_code
    assert known.headers.get("Location") == unknown.headers.get("Location")
    assert page_text(known, *known_typed) == page_text(unknown, *unknown_typed)


@pytest.mark.parametrize("field", ["email", "username"])
def test_a_failed_sign_in_reads_the_same_for_a_known_and_an_unknown_account(app, users, field):
    known_name, unknown_name = (KNOWN, UNKNOWN) if field == "email" else ("reader", "nobody")
    known = answer(app, "/login", {field: known_name, "password": "not-the-password-9"})
    unknown = answer(app, "/login", {field: unknown_name, "password": "not-the-password-9"})
    assert known.status_code == 200
    assert "Authentication failed" in known.get_data(as_text=True)
    assert_same(known, unknown, (known_name,), (unknown_name,))


def test_registering_a_known_email_reads_like_a_new_registration_and_mails_the_owner(app, users, outbox):
    def register(email, username):
        data = {"email": email, "username": username, "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}
        return answer(app, "/register", data, follow=True)

    known = register(KNOWN, "newname1")
    unknown = register(UNKNOWN, "newname2")
    assert known.status_code == 200
    assert "To confirm your email address" in known.get_data(as_text=True)
    assert_same(known, unknown, (KNOWN, "newname1"), (UNKNOWN, "newname2"))

    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email == KNOWN)).scalar() == 1
    assert fresh(sa.select(User.username).where(User.email == UNKNOWN)).scalar() == "newname2"
    to_owner = [mail for mail in outbox if mail["to"] == KNOWN]
    assert len(to_owner) == 1 and "reader" in to_owner[0]["body"], "the owner hears of it, with their username"
    assert [mail["to"] for mail in outbox if mail["to"] == UNKNOWN] == [UNKNOWN], "the new address is asked to confirm"


def test_registering_a_taken_username_reads_like_a_new_registration(app, users):
    def register(email, username):
        data = {"email": email, "username": username, "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}
        return answer(app, "/register", data, follow=True)

    taken = register("first.new@example.com", "reader")
    free = register("second.new@example.com", "freshname")
    assert_same(taken, free, ("first.new@example.com", "reader"), ("second.new@example.com", "freshname"))
    assert fresh(sa.select(User.id).where(User.email == "first.new@example.com")).scalar() is None


@pytest.mark.parametrize("field", ["email", "username"])
def test_a_known_email_or_username_in_another_case_of_a_non_ascii_letter_reads_like_a_new_one(app, users, field):
    """SQLite's lower() changes only ASCII letters: registering ΩMEGA where ωmega was kept passed Flask-Security's
    look-up and met the unique index, a 500 that told the address had an account."""

    def register(email, username):
        data = {"email": email, "username": username, "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}
        return answer(app, "/register", data, follow=True)

    first = register("ωmega@example.com", "ωmega")
    assert first.status_code == 200
    if field == "email":
        again, fresh_one = register("ΩMEGA@example.com", "other1"), register("psi@example.com", "other2")
        assert_same(again, fresh_one, ("ΩMEGA@example.com", "other1"), ("psi@example.com", "other2"))
    else:
        again, fresh_one = register("third@example.com", "ΩMEGA"), register("fourth@example.com", "psiname")
        assert_same(again, fresh_one, ("third@example.com", "ΩMEGA"), ("fourth@example.com", "psiname"))
    kept = fresh(sa.select(User.email, User.username).where(User.username.in_(["ωmega", "other1", "other2"])))
    assert sorted(kept.all()) == sorted(
        [("ωmega@example.com", "ωmega")] + ([("psi@example.com", "other2")] if field == "email" else [])
    )


def test_a_reset_request_reads_the_same_and_only_a_known_address_gets_mail(app, users, outbox):
    known = answer(app, "/reset", {"email": KNOWN})
    unknown = answer(app, "/reset", {"email": UNKNOWN})
    assert known.status_code == 200
    assert f"Instructions to reset your password have been sent to {KNOWN}." in known.get_data(as_text=True)
    assert_same(known, unknown, (KNOWN,), (UNKNOWN,))
    assert [mail["to"] for mail in outbox] == [KNOWN]


@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed"])
def test_a_confirmation_request_reads_the_same_for_a_known_and_an_unknown_address(app, users, outbox, confirmed):
    if not confirmed:
        db.session.execute(sa.update(User).where(User.email == KNOWN).values(confirmed_at=None))
        db.session.commit()
    known = answer(app, "/confirm", {"email": KNOWN})
    unknown = answer(app, "/confirm", {"email": UNKNOWN})
    assert known.status_code == 200
    assert f"Confirmation instructions have been sent to {KNOWN}." in known.get_data(as_text=True)
    assert_same(known, unknown, (KNOWN,), (UNKNOWN,))
    assert [mail["to"] for mail in outbox] == ([] if confirmed else [KNOWN])


@pytest.fixture(params=STORAGES)
def storage(request):
    return request.param


def test_the_lock_reads_the_same_for_a_known_and_an_unknown_account(app, tmp_path, storage, users):
    with limited_apps(app, tmp_path, storage, LOGIN_LOCKOUT_FAILURES=3) as [limited]:
        answers = {}
        for email in (KNOWN, UNKNOWN):
            browser = visitor(limited)
            answers[email] = [send_form(browser, "/login", email) for _ in range(4)]
        assert [r.status_code for r in answers[KNOWN]] == [200, 200, 200, 429]
        for known, unknown in zip(answers[KNOWN], answers[UNKNOWN], strict=True):
            assert_same(known, unknown, (KNOWN,), (UNKNOWN,))
        assert [mail["to"] for mail in sent_mail(limited)] == [KNOWN]


@pytest.mark.parametrize("waited", [599, 600])
def test_the_lock_ends_at_the_same_time_for_a_known_and_an_unknown_account(app, tmp_path, users, waited):
    """In memory, where the clock can be moved; Redis keeps its own time."""
    settings = {"LOGIN_LOCKOUT_FAILURES": 2, "LOGIN_LOCKOUT_SECONDS": 600}
    with (
        limited_apps(app, tmp_path, "memory", **settings) as [limited],
        time_machine.travel(datetime(2030, 1, 1, 12, tzinfo=UTC), tick=False) as clock,
    ):
        browsers = {email: visitor(limited) for email in (KNOWN, UNKNOWN)}
        for email, browser in browsers.items():
            send_form(browser, "/login", email)
            send_form(browser, "/login", email)
        clock.shift(waited)
        known, unknown = (send_form(browsers[email], "/login", email) for email in (KNOWN, UNKNOWN))
        assert known.status_code == (429 if waited < 600 else 200)
        assert_same(known, unknown, (KNOWN,), (UNKNOWN,))
