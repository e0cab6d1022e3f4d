"""Invitations (cms/invitations.py, the page at /invitation/<token>): the link works once, for INVITATION_LIFETIME
seconds, sets the invitee's own password under the one password rule and confirms them; an expired, used or
damaged link says so."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms import invitations
from cms.extensions import db
from cms.invitations import accept_invitation, invite_again
from cms.models import AuditLog, User
from tests.support.accounts import GOOD_PASSWORD
from tests.support.database import fresh
from tests.support.mail import link_in, sent_mail
from tests.support.web import Browserish

START = datetime(2026, 6, 1, 12, 0, 0)
EXPIRED = "This invitation has expired. Ask an administrator to send you a new one."
USED = "This invitation has already been used. Sign in, or choose a new password with “Forgot password”."


def invite(app, login_as, email: str = "new.person@example.com") -> str:
    """An account created in the console; the path of its invitation link."""
    response = login_as("administrator").submit(
        "/admin/user/new/", {"email": email, "username": email.split("@")[0].replace(".", ""), "active": "y"}
    )
    assert response.status_code == 302
    [mail] = [mail for mail in sent_mail(app) if mail["to"] == email]
    return link_in(mail)


def choose(app, link: str, password: str = GOOD_PASSWORD, confirm: str | None = None):
    return Browserish(app.test_client()).submit(link, {"password": password, "password_confirm": confirm or password})


def test_the_invitation_page_names_the_account_and_sets_its_password_once(app, users, login_as):
    link = invite(app, login_as)
    page = Browserish(app.test_client()).get(link).get_data(as_text=True)
    assert "Choose your password" in page and "new.person@example.com" in page
    assert choose(app, link).status_code == 302
    account = fresh(sa.select(User).where(User.email == "new.person@example.com")).scalar_one()
    assert account.confirmed_at is not None and account.password

    again = Browserish(app.test_client()).get(link)
    assert again.status_code == 410 and USED in again.get_data(as_text=True)
    browser = Browserish(app.test_client())
    form = {"password": "another-good-passphrase-7", "password_confirm": "another-good-passphrase-7"}
    assert browser.post(link, data={**form, "csrf_token": browser.csrf()}).status_code == 410
    Browserish(app.test_client()).login("new.person@example.com", GOOD_PASSWORD)


@pytest.mark.parametrize(("password", "confirm", "message"), [
    ("short", None, "Password must be at least 12 characters"),
    ("password1234", None, "This password is too easy to guess."),
    (GOOD_PASSWORD, GOOD_PASSWORD + "x", "Passwords do not match"),
], ids=["short", "easy", "mismatch"])  # fmt: skip
def test_a_refused_password_leaves_the_link_usable(app, users, login_as, password, confirm, message):
    link = invite(app, login_as)
    response = choose(app, link, password, confirm)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert fresh(sa.select(User.password).where(User.email == "new.person@example.com")).scalar() is None
    assert choose(app, link).status_code == 302


@pytest.mark.parametrize("lifetime", [7 * 24 * 3600, 60])
def test_a_link_works_for_its_lifetime_and_not_a_second_more(app, users, login_as, monkeypatch, lifetime):
    monkeypatch.setitem(app.config, "INVITATION_LIFETIME", lifetime)
    with time_machine.travel(START.replace(tzinfo=UTC), tick=False) as clock:
        link = invite(app, login_as)
        clock.shift(timedelta(seconds=lifetime))
        assert Browserish(app.test_client()).get(link).status_code == 200
        clock.shift(timedelta(seconds=1))
        expired = Browserish(app.test_client()).get(link)
        assert expired.status_code == 410 and EXPIRED in expired.get_data(as_text=True)


def test_a_damaged_link_says_so(app, users, login_as):
    link = invite(app, login_as)
    response = Browserish(app.test_client()).get(link[:-3])
    assert response.status_code == 410
    assert "This invitation link is not valid. Check that you copied all of it." in response.get_data(as_text=True)


def test_a_new_invitation_goes_only_to_those_who_have_not_accepted_and_the_first_link_still_works(app, users, login_as):
    first = invite(app, login_as)
    account = fresh(sa.select(User).where(User.email == "new.person@example.com")).scalar_one()
    with app.test_request_context():  # the links name the site the request came to
        assert invite_again([account, users["reader"]]) == 1
    [_, second] = [link_in(mail) for mail in sent_mail(app) if mail["to"] == "new.person@example.com"]
    assert second != first
    assert choose(app, first).status_code == 302
    assert Browserish(app.test_client()).get(second).status_code == 410, "a link works once, whichever"


def test_accepting_ends_any_session_of_the_account_and_is_audited(app, users, login_as):
    link = invite(app, login_as)
    before = fresh(sa.select(User.fs_uniquifier).where(User.email == "new.person@example.com")).scalar()
    token = link.rsplit("/", 1)[1]
    accept_invitation(token, GOOD_PASSWORD)
    db.session.rollback()
    account = fresh(sa.select(User).where(User.email == "new.person@example.com")).scalar_one()
    assert account.fs_uniquifier != before
    actions = fresh(sa.select(AuditLog.action).where(AuditLog.object_id == str(account.id))).scalars().all()
    assert "accept_invitation" in actions


def test_an_invitation_link_carries_a_cheap_sha512_digest(app, users, login_as):
    """Like confirmation and reset links (SECURITY_HASHING_SCHEMES): an import makes thousands at once."""
    link = invite(app, login_as)
    with app.test_request_context():
        _, digest, _nonce = invitations._serializer().loads(link.rsplit("/", 1)[1])
    assert not digest.startswith("$5$") and len(digest) == 128 and int(digest, 16)
