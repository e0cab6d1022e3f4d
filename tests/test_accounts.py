"""Accounts through the real Flask-Security forms, CSRF on: register, confirm, sign in, reset, change."""

import re

import pytest
import sqlalchemy as sa

from cms.accounts import MIN_PASSWORD_LENGTH, AccountError, create_user
from cms.models import User
from tests.support.database import fresh
from tests.support.web import Browserish


def link_in(mail: dict) -> str:
    match = re.search(r"http://localhost(/\S+)", mail["body"])
    assert match, mail["body"]
    return match.group(1)


def register(browser, email="Reader.One@Example.com", username="readerone", password="a-long-password"):
    return browser.submit(
        "/register", {"email": email, "username": username, "password": password, "password_confirm": password}
    )


def test_register_confirm_sign_in_reset_and_change(app, outbox):
    browser = Browserish(app.test_client())
    response = register(browser)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]

    user = fresh(sa.select(User).where(User.username == "readerone")).scalar_one()
    assert user.email == "reader.one@example.com"
    assert [r.name for r in user.roles] == ["Reader"], "self-registered users start as Readers"
    assert user.confirmed_at is None

    confirmation = outbox[-1]
    assert confirmation["to"] == "reader.one@example.com"
    confirmed = browser.get(link_in(confirmation), follow_redirects=True)
    assert "Thank you. Your email has been confirmed." in confirmed.get_data(as_text=True)
    assert fresh(sa.select(User.confirmed_at).where(User.id == user.id)).scalar() is not None

    browser.logout()
    browser.login("READER.ONE@example.com", "a-long-password")
    browser.logout()

    sent = browser.submit("/reset", {"email": "reader.one@example.com"})
    assert sent.status_code in (200, 302)
    reset_url = link_in(outbox[-1])
    reset = browser.submit(
        reset_url, {"password": "another-long-password", "password_confirm": "another-long-password"}
    )
    assert reset.status_code == 302
    browser.logout()
    wrong = browser.submit("/login", {"email": "reader.one@example.com", "password": "a-long-password"})
    assert wrong.status_code == 200 and "Invalid password" in wrong.get_data(as_text=True)
    browser.login("reader.one@example.com", "another-long-password")

    changed = browser.submit(
        "/change",
        {
            "password": "another-long-password",
            "new_password": "third-long-password",
            "new_password_confirm": "third-long-password",
        },  # fmt: skip
    )
    assert changed.status_code == 302
    browser.logout()
    browser.login("reader.one@example.com", "third-long-password")


def test_registration_without_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post(
        "/register",
        data={
            "email": "x@example.com",
            "username": "xuser",
            "password": "a-long-password",
            "password_confirm": "a-long-password",
        },  # fmt: skip
    )
    assert response.status_code in (200, 400)
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.username == "xuser")).scalar() == 0


@pytest.mark.parametrize(
    ("email", "username", "password", "message"),
    [
        ("not-an-email", "someone", "a-long-password", "Invalid email address"),
        ("reader@example.com", "someone", "a-long-password", "is already associated with an account"),
        ("READER@EXAMPLE.COM", "someone", "a-long-password", "is already associated with an account"),
        ("new@example.com", "reader", "a-long-password", "is already associated with an account"),
        ("new@example.com", "someone", "short", "Password must be at least 8 characters"),
    ],
    ids=["bad-email", "taken-email", "taken-email-other-case", "taken-username", "short-password"],
)
def test_bad_registration_gives_a_form_error(app, users, email, username, password, message):
    before = fresh(sa.select(sa.func.count()).select_from(User)).scalar()
    response = register(Browserish(app.test_client()), email, username, password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == before


def test_emails_are_stored_lower_case_and_collide_on_every_database(app):
    create_user("Bob@X.io", "a-long-password", ["Reader"], username="bob")
    with pytest.raises(AccountError, match="already exists"):
        create_user("bob@x.io", "a-long-password", ["Reader"], username="bob2")
    assert fresh(sa.select(User.email).where(User.username == "bob")).scalar() == "bob@x.io"
    Browserish(app.test_client()).login("BOB@x.io", "a-long-password")


def test_create_user_refuses_unknown_role(app):
    with pytest.raises(AccountError, match="Unknown role"):
        create_user("c@example.com", "a-long-password", ["Wizard"])
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == 0


def test_development_mail_is_written_to_the_log(app, caplog):
    caplog.set_level("INFO", logger="cms.mail")
    register(Browserish(app.test_client()), "logged@example.com", "loggeduser")
    assert any("Mail to logged@example.com" in record.getMessage() for record in caplog.records)


def test_a_password_of_the_minimum_length_is_accepted_and_one_shorter_refused(app):
    create_user("eight@example.com", "p" * MIN_PASSWORD_LENGTH, ["Reader"], username="eight")
    with pytest.raises(AccountError, match=f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."):
        create_user("seven@example.com", "p" * (MIN_PASSWORD_LENGTH - 1), ["Reader"], username="seven")
    assert list(fresh(sa.select(User.username)).scalars()) == ["eight"]


@pytest.mark.parametrize(("length", "status"), [(8, 302), (7, 200)], ids=["minimum", "one-shorter"])
def test_registration_accepts_a_password_of_the_minimum_length_and_refuses_one_shorter(app, length, status):
    response = register(Browserish(app.test_client()), password="p" * length)
    assert response.status_code == status
    if status == 200:
        assert "Password must be at least 8 characters" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == (1 if status == 302 else 0)


@pytest.mark.parametrize("path", ["/login", "/register", "/reset"])
def test_account_pages_are_private_and_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "private, no-store"


def test_the_session_cookie_is_samesite_lax_and_http_only(client, users):
    response = client.login("reader@example.com")
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
