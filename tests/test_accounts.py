"""Accounts through the real Flask-Security forms, CSRF on: register, confirm, sign in, reset, change."""

import re
import subprocess
import sys

import pytest
import sqlalchemy as sa
import zxcvbn
from flask_security import SQLAlchemyUserDatastore

from cms import passwords
from cms.accounts import AccountError, create_user
from cms.extensions import db
from cms.models import User
from cms.seed import DEMO_PASSWORD, DEMO_TOTP_KEY, demo_accounts
from tests.support.accounts import GOOD_PASSWORD
from tests.support.catalogs import ROOT
from tests.support.database import fresh
from tests.support.mail import sent_mail
from tests.support.web import PASSWORD, Browserish

# 12 and 11 characters that zxcvbn scores 4: only the length decides.
STRONG_12 = "vK7#qm2!Xz9p"
GENERIC_FAILURE = "Authentication failed - identity or password/passcode invalid"


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
    assert "Sign out" not in browser.get("/en/").get_data(as_text=True), "no sign-in before the email is confirmed"

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
    assert wrong.status_code == 200 and GENERIC_FAILURE in wrong.get_data(as_text=True)
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
        ("new@example.com", "someone", "short", "Password must be at least 12 characters"),
    ],
    ids=["bad-email", "short-password"],
)
def test_bad_registration_gives_a_form_error(app, users, email, username, password, message):
    before = fresh(sa.select(sa.func.count()).select_from(User)).scalar()
    response = register(Browserish(app.test_client()), email, username, password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == before


@pytest.mark.parametrize("username", ["ann.lee", "ann_lee", "ann-lee", "Ann.Lee", "annlee"])
def test_a_username_with_a_dot_an_underscore_or_a_hyphen_signs_in(app, users, username):
    """Every username the console, the import and registration accept signs in (Flask-Security's own rule, letters
    and digits, refused "ann.lee" at the sign-in form, and an import makes it from the address ann.lee@…)."""
    create_user("ann@example.org", GOOD_PASSWORD, ["Reader"], username=username)
    response = Browserish(app.test_client()).submit("/login", {"username": username, "password": GOOD_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("username", "registered"), [("ann.lee", True), ("ann_lee-2", True), ("ann/lee", False), ("ann?lee", False)]
)
def test_registration_takes_the_usernames_the_console_takes(app, username, registered):
    response = register(Browserish(app.test_client()), "ann@example.org", username)
    kept = fresh(sa.select(User.username).where(User.email == "ann@example.org")).scalar()
    assert kept == (username if registered else None)
    if not registered:
        assert "Username can contain only letters and numbers" in response.get_data(as_text=True)


def test_emails_are_stored_lower_case_and_collide_on_every_database(app):
    create_user("Bob@X.io", "a-long-password", ["Reader"], username="bob")
    with pytest.raises(AccountError, match="already exists"):
        create_user("bob@x.io", "a-long-password", ["Reader"], username="bob2")
    assert fresh(sa.select(User.email).where(User.username == "bob")).scalar() == "bob@x.io"
    Browserish(app.test_client()).login("BOB@x.io", "a-long-password")


def test_create_user_refuses_unknown_role(app):
    with pytest.raises(AccountError, match="Unknown role"):
        create_user("carol@example.com", "a-long-password", ["Wizard"])
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == 0


def test_development_mail_is_written_to_the_log(app, caplog, outbox):
    caplog.set_level("INFO", logger="cms.mail")
    register(Browserish(app.test_client()), "logged@example.com", "loggeduser")
    assert len(outbox) == 1  # the worker has sent it
    assert any("Mail to logged@example.com" in record.getMessage() for record in caplog.records)


def test_a_password_of_the_minimum_length_is_accepted_and_one_shorter_refused(app):
    create_user("twelve@example.com", STRONG_12, ["Reader"], username="twelve")
    with pytest.raises(AccountError, match="Password must be at least 12 characters"):
        create_user("eleven@example.com", STRONG_12[:-1], ["Reader"], username="eleven")
    assert list(fresh(sa.select(User.username)).scalars()) == ["twelve"]


@pytest.mark.parametrize(("password", "status"), [(STRONG_12, 302), (STRONG_12[:-1], 200)], ids=["12", "11"])
def test_registration_accepts_a_password_of_the_minimum_length_and_refuses_one_shorter(app, password, status):
    response = register(Browserish(app.test_client()), password=password)
    assert response.status_code == status
    if status == 200:
        assert "Password must be at least 12 characters" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User)).scalar() == (1 if status == 302 else 0)


@pytest.mark.parametrize("path", ["/login", "/register", "/reset"])
def test_account_pages_are_private_and_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "private, no-store"


def test_the_session_cookie_is_samesite_lax_and_http_only(client, users):
    response = client.login("reader@example.com")
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


# -- one password rule wherever a password is set -------------------------------------------------------
TOO_SHORT = "Password must be at least 12 characters"
TOO_EASY = "This password is too easy to guess."
PASSWORDS = [("12345678", TOO_SHORT), ("password", TOO_SHORT), ("password1234", TOO_EASY), (GOOD_PASSWORD, None)]


def by_registering(app, users, password):
    response = register(Browserish(app.test_client()), "new.person@example.com", "newperson", password)
    return response.status_code == 302, response.get_data(as_text=True)


def by_changing(app, users, password):
    browser = Browserish(app.test_client())
    browser.login("reader@example.com")
    response = browser.submit(
        "/change", {"password": PASSWORD, "new_password": password, "new_password_confirm": password}
    )
    return response.status_code == 302, response.get_data(as_text=True)


def by_resetting(app, users, password):
    browser = Browserish(app.test_client())
    browser.submit("/reset", {"email": "reader@example.com"})
    response = browser.submit(link_in(sent_mail(app)[-1]), {"password": password, "password_confirm": password})
    return response.status_code == 302, response.get_data(as_text=True)


def _console(app):
    admin = Browserish(app.test_client())
    admin.login("administrator@example.com")
    return admin


def by_invitation(app, users, password):
    _console(app).submit(
        "/admin/user/new/", {"email": "new.person@example.com", "username": "newperson", "active": "y"}
    )
    [invitation] = [mail for mail in sent_mail(app) if mail["to"] == "new.person@example.com"]
    response = Browserish(app.test_client()).submit(
        link_in(invitation), {"password": password, "password_confirm": password}
    )
    return response.status_code == 302, response.get_data(as_text=True)


def by_console_edit(app, users, password):
    me = users["administrator"]
    response = _console(app).edit(f"/admin/user/edit/?id={me.id}", {"new_password": password})
    return response.status_code == 302, response.get_data(as_text=True)


def by_command(app, users, password):
    result = app.test_cli_runner().invoke(args=["cms", "create-user", "new.person@example.com", "--password", password])
    return result.exit_code == 0, result.output


PLACES = {
    "register": by_registering,
    "change": by_changing,
    "reset": by_resetting,
    "invitation": by_invitation,
    "console-edit": by_console_edit,
    "command": by_command,
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("password", "message"), PASSWORDS, ids=[p for p, _ in PASSWORDS])
def test_every_place_a_password_is_set_applies_the_same_rule(app, users, place, password, message):
    accepted, text = PLACES[place](app, users, password)
    if message is None:
        assert accepted, text[:3000]
    else:
        assert not accepted
        assert message in text, text[:3000]


def test_a_password_is_checked_against_what_the_account_says(app):
    """zxcvbn is given the email and username: a password made of them is easy to guess."""
    with pytest.raises(AccountError, match=TOO_EASY):
        create_user("quentin.marlowe@example.com", "quentinmarlowe1", ["Reader"], username="quentinmarlowe")
    create_user("someone@example.com", "quentinmarlowe1", ["Reader"], username="someone")


def test_the_demo_accounts_keep_their_easy_password(app):
    demo_accounts()
    browser = Browserish(app.test_client())
    browser.totp_keys["editor@example.com"] = DEMO_TOTP_KEY  # the demo staff's printed authenticator key
    browser.login("editor@example.com", DEMO_PASSWORD)


def test_an_unconfirmed_account_cannot_sign_in_and_only_the_right_password_learns_why(app, users):
    db.session.execute(sa.update(User).where(User.email == "reader@example.com").values(confirmed_at=None))
    db.session.commit()
    right = Browserish(app.test_client()).submit("/login", {"email": "reader@example.com", "password": PASSWORD})
    assert right.status_code == 200 and "Email requires confirmation." in right.get_data(as_text=True)
    wrong = Browserish(app.test_client()).submit("/login", {"email": "reader@example.com", "password": GOOD_PASSWORD})
    assert GENERIC_FAILURE in wrong.get_data(as_text=True)
    assert "Email requires confirmation." not in wrong.get_data(as_text=True)  # (the page links to "Resend …")


@pytest.mark.parametrize(("password", "accepted"), [("a-long-password", True), ("demo-password", False)])
def test_a_password_zxcvbn_scores_the_minimum_is_accepted_and_one_below_refused(app, password, accepted):
    """Both are long enough; zxcvbn scores the first 3 (the setting) and the second 2."""
    known = ["someone@example.com", "someone"]
    assert zxcvbn.zxcvbn(password, user_inputs=known)["score"] == (3 if accepted else 2)
    if accepted:
        create_user("someone@example.com", password, ["Reader"], username="someone")
    else:
        with pytest.raises(AccountError, match=TOO_EASY):
            create_user("someone@example.com", password, ["Reader"], username="someone")


@pytest.mark.parametrize(("bound", "accepted"), [(1, False), (0, True)])
def test_swapped_letters_are_looked_for_up_to_l33t_substitutions_combinations(app, monkeypatch, bound, accepted):
    """p@$$w0rd twice makes one combination of swaps: looked for within the bound (zxcvbn then finds "password"
    twice), not past it."""
    monkeypatch.setattr(passwords, "L33T_SUBSTITUTIONS", bound)
    if accepted:
        create_user("someone@example.com", "p@$$w0rdp@$$w0rd", ["Reader"], username="someone")
    else:
        with pytest.raises(AccountError, match=TOO_EASY):
            create_user("someone@example.com", "p@$$w0rdp@$$w0rd", ["Reader"], username="someone")


def test_a_128_character_password_of_mixed_symbols_is_scored_without_trying_every_swap(app, monkeypatch):
    """Its symbols allow 736 combinations of swaps, each tried over the whole password: 6 s of a worker per
    registration, reset or change. Past L33T_SUBSTITUTIONS none is tried; the password is still scored and taken."""
    tried = []
    passwords._zxcvbn()  # zxcvbn loaded, its matcher bounded, so that the library's is the one replaced here
    monkeypatch.setattr(passwords, "_library_l33t_match", lambda *args: tried.append(args) or [])
    password = ("4@8(<{[3&69!|170$5+%2" * 7)[:128]
    browser = Browserish(app.test_client())
    assert register(browser, password=password).status_code == 302
    assert fresh(sa.select(User.username)).scalars().all().count("readerone") == 1
    assert tried == []


def test_the_app_loads_zxcvbn_only_when_a_password_is_checked(tmp_path):
    """Its dictionaries take about 12 MB of every process (web workers, an export's processes) that imports the app."""
    script = """
import sys
from pathlib import Path
from tests.support.database import make_app
app = make_app("sqlite", Path(sys.argv[1]))
assert "zxcvbn" not in sys.modules, "imported with the app"
from cms.passwords import CmsPasswordUtil
with app.test_request_context():
    problems = CmsPasswordUtil(app).complexity_problems("password1234", True, email="someone@example.com")
assert problems and "zxcvbn" in sys.modules, problems
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr


# Each account page: its title, its one heading and its button say the same word as the link that leads to it.
ACCOUNT_PAGE_WORDS = [
    ("/login", "Sign in", "Sign in"),
    ("/register", "Register", "Register"),
    ("/reset", "Forgot your password?", "Send the link"),
    ("/confirm", "Resend the confirmation email", "Resend the confirmation email"),
]


@pytest.mark.parametrize(("path", "heading", "button"), ACCOUNT_PAGE_WORDS)
def test_account_pages_are_the_sites_pages_in_the_sites_words(client, path, heading, button):
    html = client.get(path).get_data(as_text=True)
    assert 'class="site-header"' in html and "site.css" in html, "the site's layout"
    assert f"<title>{heading}</title>" in html
    assert re.findall(r"<h1>(.*?)</h1>", html) == [heading]
    assert re.search(
        rf'<input class="button" id="submit" name="submit" type="submit" value="{re.escape(button)}">', html
    )
    assert ">Login<" not in html and "Menu" not in html and "Email Address" not in html and "Sign Out" not in html
    for tag in re.findall(r"<input [^>]*>", html):
        if 'type="hidden"' not in tag and 'type="submit"' not in tag:
            field = re.search(r'id="([^"]+)"', tag).group(1)
            assert f'<label for="{field}">' in html, f"{path}: #{field} has a label"


def test_the_header_leads_to_account_pages_in_the_readers_language_and_they_keep_it(client):
    header = client.get("/zh/").get_data(as_text=True).split("</header>")[0]
    sign_in = re.search(r'href="(/login\?[^"]+)"', header).group(1).replace("&amp;", "&")
    assert "lang=zh" in sign_in and "next=/zh/" in sign_in
    html = client.get(sign_in).get_data(as_text=True)
    assert '<html lang="zh">' in html and "<h1>登录</h1>" in html
    assert 'action="/login?next=/zh/&amp;lang=zh"' in html, "an answer to the form is in Chinese too"
    menu = html.split('class="account-links"')[1]
    assert 'href="/register?next=/zh/&amp;lang=zh"' in menu and 'href="/reset?next=/zh/&amp;lang=zh"' in menu


@pytest.mark.parametrize(
    "lookup",
    [
        lambda user: {"fs_uniquifier": user.fs_uniquifier},
        lambda user: {"email": user.email},
        lambda user: {"email": user.email.upper(), "case_insensitive": True},
        lambda user: {"username": user.username.upper(), "case_insensitive": True},
        lambda user: {"fs_uniquifier": "no-such-account"},
        lambda user: {"email": "nobody@example.com", "case_insensitive": True},
    ],
)
def test_the_account_store_finds_what_flask_securitys_datastore_finds(app, users, lookup):
    """cms.accounts.AccountStore keeps the statement it finds an account with; it finds the same account (with its
    roles) or none, as Flask-Security's own look-up does, each look-up with its own value."""
    store = app.extensions["security"].datastore
    accounts = [
        (lookup(account), account.id, {role.name for role in account.roles})
        for account in (users["reader"], users["administrator"])
    ]
    for kwargs, account_id, roles in accounts:
        db.session.expunge_all()  # each look-up loads the account and its roles from the database
        ours = store.find_user(**kwargs)
        found = None if ours is None else (ours.id, {role.name for role in ours.roles})
        db.session.expunge_all()
        theirs = SQLAlchemyUserDatastore.find_user(store, **kwargs)
        assert found == (None if theirs is None else (theirs.id, {role.name for role in theirs.roles}))
        if found is not None:
            assert found == (account_id, roles)
        db.session.expunge_all()
