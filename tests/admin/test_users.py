"""The users view: no password hashes, working new accounts, and no admin lock-out."""

import re
import unicodedata

import pytest
import sqlalchemy as sa

from cms.accounts import create_user
from cms.extensions import db
from cms.models import Role, User
from tests.support.accounts import GOOD_PASSWORD
from tests.support.database import fresh
from tests.support.mail import link_in
from tests.support.web import Browserish, page_errors

# Passwords zxcvbn finds hard to guess, so only their length decides.
STRONG_12 = "vK7#qm2!Xz9p"
STRONG_128 = ("vK7#qm2!Xz9p-" * 10)[:128]


def role_id(name: str) -> int:
    return fresh(sa.select(Role.id).where(Role.name == name)).scalar_one()


def user_form(user: User, **changes) -> dict:
    data = {
        "email": user.email,
        "username": user.username,
        "name": user.name or "",
        "about_me": user.about_me or "",
        "locale": user.locale or "",
        "roles": [r.id for r in user.roles],
    }
    if user.active:
        data["active"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_edit_form_never_shows_the_password_hash(login_as, users):
    admin = login_as("administrator")
    target = users["reader"]
    for url in (f"/admin/user/edit/?id={target.id}", f"/admin/user/details/?id={target.id}", "/admin/user/"):
        html = admin.get(url).get_data(as_text=True)
        assert target.password not in html
        assert "$argon2" not in html
    assert "$argon2" not in admin.get("/admin/user/export/csv/").get_data(as_text=True)


def test_posted_password_hash_field_is_ignored(login_as, users):
    admin = login_as("administrator")
    target = users["reader"]
    old_hash = target.password
    admin.submit(f"/admin/user/edit/?id={target.id}", user_form(target, password="$argon2id$forged"))
    assert fresh(sa.select(User.password).where(User.id == target.id)).scalar() == old_hash


def test_admin_creates_an_account_and_the_invitee_chooses_a_password_and_is_confirmed(app, login_as, outbox):
    admin = login_as("administrator")
    form = admin.get("/admin/user/new/").get_data(as_text=True)
    assert 'name="new_password"' not in form and 'name="confirmed_at"' not in form
    response = admin.submit(
        "/admin/user/new/",
        {"email": "New.Person@Example.com", "username": "newperson", "active": "y", "roles": [role_id("Author")]},
    )
    assert response.status_code == 302, page_errors(response)
    assert "An invitation to choose a password is on its way to new.person@example.com." in admin.get(
        response.location
    ).get_data(as_text=True)
    created = fresh(sa.select(User).where(User.username == "newperson")).scalar_one()
    assert (created.email, [r.name for r in created.roles]) == ("new.person@example.com", ["Author"])
    assert created.password is None and created.confirmed_at is None and created.fs_uniquifier

    [invitation] = [mail for mail in outbox if mail["to"] == "new.person@example.com"]
    assert invitation["subject"] == "You are invited to the Newsroom" and "newperson" in invitation["body"]
    invitee = Browserish(app.test_client())
    accepted = invitee.submit(link_in(invitation), {"password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD})
    assert accepted.status_code == 302 and accepted.location.endswith("/login")
    assert fresh(sa.select(User.confirmed_at).where(User.id == created.id)).scalar() is not None
    invitee.login("new.person@example.com", GOOD_PASSWORD)


def test_an_invitation_follows_a_corrected_address_and_the_first_link_ends(app, login_as, outbox):
    """An account made with a mistyped address, then corrected: the first invitation (to the typo) still let its
    reader choose the password, and nothing went to the right address."""
    admin = login_as("administrator")
    made = admin.submit(
        "/admin/user/new/", {"email": "typo.person@example.com", "username": "newperson", "active": "y"}
    )
    assert made.status_code == 302
    [first] = [mail for mail in outbox if mail["to"] == "typo.person@example.com"]
    created = fresh(sa.select(User).where(User.username == "newperson")).scalar_one()
    fixed = admin.submit(f"/admin/user/edit/?id={created.id}", user_form(created, email="right.person@example.com"))
    assert fixed.status_code == 302
    assert Browserish(app.test_client()).get(link_in(first)).status_code == 410
    [second] = [mail for mail in outbox if mail["to"] == "right.person@example.com"]
    invitee = Browserish(app.test_client())
    accepted = invitee.submit(link_in(second), {"password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD})
    assert accepted.status_code == 302
    invitee.login("right.person@example.com", GOOD_PASSWORD)


@pytest.mark.parametrize("typed", ["ｒｅａｄｅｒ", "ＲＥＡＤＥＲ"])
def test_a_username_another_spelling_of_an_existing_one_is_taken(login_as, users, typed):
    """A full-width ｒｅａｄｅｒ was kept beside reader: it could never sign in by name (sign-in normalises it to
    reader), its failures locked reader's account, and its author page passed for reader's."""
    admin = login_as("administrator")
    response = admin.submit("/admin/user/new/", {"email": "wide@example.com", "username": typed, "active": "y"})
    errors = " ".join(page_errors(response))  # MariaDB's collation already finds it equal: the form's own check
    assert "Another account has this username." in errors or "Already exists." in errors
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email == "wide@example.com")).scalar() == 0


def test_an_accented_username_is_kept_as_sign_in_finds_it(login_as, users):
    admin = login_as("administrator")
    response = admin.submit("/admin/user/new/", {"email": "jose@example.com", "username": "José", "active": "y"})
    assert response.status_code == 302, page_errors(response)
    stored = fresh(sa.select(User.username).where(User.email == "jose@example.com")).scalar()
    assert stored == unicodedata.normalize("NFKD", "josé")


def test_a_password_posted_for_someone_else_is_not_set(login_as, users, outbox):
    admin = login_as("administrator")
    admin.submit("/admin/user/new/", {"email": "nopw@example.com", "username": "nopw", "active": "y",
                                      "new_password": GOOD_PASSWORD, "confirmed_at": "2026-01-01 00:00:00"})  # fmt: skip
    created = fresh(sa.select(User).where(User.username == "nopw")).scalar_one()
    assert created.password is None and created.confirmed_at is None
    reader = users["reader"]
    before = reader.password
    assert 'name="new_password"' not in admin.get(f"/admin/user/edit/?id={reader.id}").get_data(as_text=True)
    admin.submit(f"/admin/user/edit/?id={reader.id}", user_form(reader, new_password=GOOD_PASSWORD))
    assert fresh(sa.select(User.password).where(User.id == reader.id)).scalar() == before


def test_the_invitation_can_be_sent_again_to_those_who_have_not_accepted_it(login_as, users, outbox):
    admin = login_as("administrator")
    admin.submit("/admin/user/new/", {"email": "late@example.com", "username": "late", "active": "y"})
    late = fresh(sa.select(User).where(User.username == "late")).scalar_one()
    outbox.clear()
    response = admin.post("/admin/user/action/", data={"action": "invite", "rowid": [late.id, users["reader"].id],
                                                       "csrf_token": admin.csrf()}, follow_redirects=True)  # fmt: skip
    assert "1 invitation is on its way." in response.get_data(as_text=True)
    assert [(mail["to"], mail["subject"]) for mail in outbox] == [
        ("late@example.com", "You are invited to the Newsroom")
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"locale": "klingon"}, "Not a valid choice"),
        ({"languages": ["tlh"]}, "is not a valid choice"),
        ({"languages": [" ", "xx" * 200]}, "Choose languages of the site only"),  # past the choice's check
    ],
    ids=["locale-unknown", "languages-unknown", "languages-space-and-long"],
)
def test_an_accounts_languages_are_the_sites_or_none(login_as, users, changes, message):
    target = users["reader"]
    before = fresh(sa.select(User.locale, User.languages).where(User.id == target.id)).one()
    response = login_as("administrator").submit(f"/admin/user/edit/?id={target.id}", user_form(target, **changes))
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert fresh(sa.select(User.locale, User.languages).where(User.id == target.id)).one() == before


@pytest.mark.parametrize("blank", [" ", "\t", " " * 40])
def test_a_language_of_white_space_is_no_language(login_as, users, blank):
    """It passed the console form (WTForms' Optional clears the choice's error) and was saved as the account's
    language; a sign-in lock's notice and an invitation, written in it, were then 500s. It is now none."""
    target = users["reader"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={target.id}", user_form(target, locale=blank, name="Changed")
    )
    assert response.status_code == 302
    assert fresh(sa.select(User.locale, User.name).where(User.id == target.id)).one() == (None, "Changed")


def test_mail_to_an_account_whose_language_the_site_lacks_is_in_the_default_language(app, login_as, users, outbox):
    """A language saved before it was checked, or one the site no longer offers: the invitation goes out in the
    default language, where writing it in that language was a 500."""
    admin = login_as("administrator")
    admin.submit("/admin/user/new/", {"email": "late@example.com", "username": "late", "active": "y"})
    late = fresh(sa.select(User).where(User.username == "late")).scalar_one()
    db.session.execute(sa.update(User).where(User.id == late.id).values(locale=" "))
    db.session.commit()
    outbox.clear()
    response = admin.post("/admin/user/action/", data={"action": "invite", "rowid": [late.id],
                                                       "csrf_token": admin.csrf()}, follow_redirects=True)  # fmt: skip
    assert response.status_code == 200 and "1 invitation is on its way." in response.get_data(as_text=True)
    assert [(mail["to"], mail["subject"]) for mail in outbox] == [
        ("late@example.com", "You are invited to the Newsroom")
    ]


@pytest.mark.parametrize(
    ("username", "saved"),
    [
        ("a/b/c", False),
        ("who?", False),
        ("x#y", False),
        ("two words", False),
        ("josé.garcía-2_x", True),
        ("記者001", True),
    ],
)
def test_a_username_is_a_part_of_an_address(login_as, users, username, saved):
    """A console-made username is the author's address (/<locale>/authors/<username>): "a/b/c" made the page
    unreachable. Letters of any script, digits, "_", "." and "-" are kept."""
    target = users["reader"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={target.id}", user_form(target, username=username)
    )
    stored = fresh(sa.select(User.username).where(User.id == target.id)).scalar()
    if saved:  # kept decomposed (josé: an e and an accent), as sign-in looks it up; its page answers either way
        assert response.status_code == 302 and stored == unicodedata.normalize("NFKD", username)
        assert login_as(None).get(f"/en/authors/{username}").status_code == 200
    else:
        assert response.status_code == 200 and "A username holds letters, digits" in page_errors(response)[0]
        assert stored == "reader"


@pytest.mark.parametrize(
    ("username", "saved"),
    [("..", False), (" ‥ ", False), (" . ", False), ("...", True), ("a.b", True)],
    ids=["dot-dot", "two-dot-leader", "dot", "three-dots", "a-dot-b"],
)
def test_a_username_that_is_a_step_in_an_address_is_refused(login_as, users, username, saved):
    """ " .. " or a two-dot leader was kept as "..", whose author page /en/authors/.. browsers read as /en/."""
    target = users["reader"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={target.id}", user_form(target, username=username)
    )
    stored = fresh(sa.select(User.username).where(User.id == target.id)).scalar()
    if saved:
        assert response.status_code == 302 and stored == username
        assert login_as(None).get(f"/en/authors/{username}").status_code == 200
    else:
        errors = " ".join(page_errors(response))  # typed shorter than 3, the form's own check says it first
        assert response.status_code == 200 and any(
            message in errors
            for message in ("A username cannot be “.” or “..”", "Field must be between 3 and 64 characters")
        )
        assert stored == "reader"


@pytest.mark.parametrize(("length", "saved"), [(2000, True), (2001, False)])
def test_about_me_in_the_console_takes_what_the_profile_takes(login_as, users, length, saved):
    """The console took 70,000 characters where the profile form takes 2,000 (and MariaDB's TEXT 65,535 bytes)."""
    target = users["reader"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={target.id}", user_form(target, about_me="é" * length)
    )
    stored = fresh(sa.select(User.about_me).where(User.id == target.id)).scalar()
    assert (response.status_code == 302) is saved
    assert (stored == "é" * length) is saved


def test_an_address_is_kept_as_a_sign_in_looks_it_up(login_as, users):
    """A full-width letter in the domain is the ASCII one, as Flask-Security's sign-in normalises it: kept as
    typed, the account could not sign in, and a second account with the ASCII spelling was allowed."""
    target = users["reader"]
    admin = login_as("administrator")
    response = admin.submit(f"/admin/user/edit/?id={target.id}", user_form(target, email="Reader2@ｅxample.com"))
    assert response.status_code == 302
    assert fresh(sa.select(User.email).where(User.id == target.id)).scalar() == "reader2@example.com"
    again = admin.submit("/admin/user/new/", {"email": "reader2@example.com", "username": "twin", "active": "y"})
    assert "Already exists." in page_errors(again)
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.username == "twin")).scalar() == 0


def test_a_changed_address_is_told_to_the_old_one_and_an_unchanged_one_is_not(login_as, users, outbox):
    """An administrator gave an account another address without a word to its owner; whoever held the new address
    could then choose the account's password through "forgot password"."""
    target = users["editor"]
    target.locale = "es"
    db.session.commit()
    admin = login_as("administrator")
    outbox.clear()
    admin.submit(f"/admin/user/edit/?id={target.id}", user_form(target, email="EDITOR@Example.com", name="Ed"))
    assert list(outbox) == []  # the same address, however typed
    response = admin.submit(f"/admin/user/edit/?id={target.id}", user_form(target, email="new.home@example.org"))
    assert response.status_code == 302
    [notice] = list(outbox)
    assert notice["to"] == "editor@example.com"
    assert "editor" in notice["body"] and "new.home@example.org" in notice["body"]
    assert notice["subject"] == "Se cambió la dirección de correo de tu cuenta"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"email": "READER@example.com", "username": "another"}, "Another account has this email address."),
        ({"email": "another@example.com", "username": "Reader"}, "Another account has this username."),
    ],
    ids=["email", "username"],
)
def test_duplicate_email_or_username_differing_in_case_is_a_form_error(login_as, users, form, message):
    administrator = login_as("administrator")
    response = administrator.submit("/admin/user/new/", {**form, "active": "y"})
    html = response.get_data(as_text=True)
    # MariaDB's collation finds the other account in the form's own check ("Already exists."), SQLite's does not.
    assert response.status_code == 200 and (message in html or "Already exists." in html)
    assert "INSERT" not in html and "Integrity" not in html  # not the refused statement
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email == "another@example.com")).scalar() == 0
    editor = users["editor"]
    edited = administrator.submit(f"/admin/user/edit/?id={editor.id}", user_form(editor, **form))
    assert edited.status_code == 200
    assert message in edited.get_data(as_text=True) or "Already exists." in edited.get_data(as_text=True)
    assert fresh(sa.select(User.email).where(User.id == editor.id)).scalar() == "editor@example.com"


def test_admin_cannot_remove_own_admin_role(login_as, users):
    me = users["administrator"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={me.id}", user_form(me, roles=[role_id("Reader")])
    )
    assert response.status_code == 200
    assert "You cannot remove your own administrator rights" in response.get_data(as_text=True)
    assert [r.name for r in fresh(sa.select(User).where(User.id == me.id)).scalar_one().roles] == ["Administrator"]


def test_admin_cannot_deactivate_self(login_as, users):
    me = users["administrator"]
    response = login_as("administrator").submit(f"/admin/user/edit/?id={me.id}", user_form(me, active=None))
    assert response.status_code == 200
    assert fresh(sa.select(User.active).where(User.id == me.id)).scalar() is True


def test_admin_cannot_delete_own_account(login_as, users):
    me = users["administrator"]
    admin = login_as("administrator")
    response = admin.post("/admin/user/delete/", data={"id": me.id, "csrf_token": admin.csrf()}, follow_redirects=True)
    assert "You cannot delete your own account." in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.id == me.id)).scalar() == 1


def test_admin_can_change_another_users_roles(login_as, users):
    target = users["reader"]
    response = login_as("administrator").submit(
        f"/admin/user/edit/?id={target.id}", user_form(target, roles=[role_id("Reader"), role_id("Moderator")])
    )
    assert response.status_code == 302
    roles = fresh(sa.select(User).where(User.id == target.id)).scalar_one().roles
    assert sorted(r.name for r in roles) == ["Moderator", "Reader"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-email"}, "Invalid email address"),
        ({"username": "x" * 100}, "Field must be between 3 and 64 characters long"),
        ({"locale": "xx"}, "Not a valid choice"),
        ({"roles": ["999999"]}, "Not a valid choice"),
        ({"name": "Evil\x0bName"}, "Use letters, digits, spaces and punctuation only, on one line."),
    ],
    ids=["email", "username-too-long", "unknown-locale", "unknown-role", "control-character-in-name"],
)
def test_bad_user_input_gives_a_form_error(login_as, users, changes, message):
    target = users["reader"]
    response = login_as("administrator").submit(f"/admin/user/edit/?id={target.id}", user_form(target, **changes))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert fresh(sa.select(User.email).where(User.id == target.id)).scalar() == "reader@example.com"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"username": "abc"}, None),
        ({"username": "ab"}, "Field must be between 3 and 64 characters long."),
        ({"username": "u" * 64}, None),
        ({"username": "u" * 65}, "Field must be between 3 and 64 characters long."),
        ({"username": " ab "}, "Field must be between 3 and 64 characters long."),
        ({"username": "\ufb03" * 22}, "Field must be between 3 and 64 characters long."),
    ],
    ids=["username-3", "username-2", "username-64", "username-65", "username-2-as-kept", "username-66-as-kept"],
)
def test_account_fields_accept_their_longest_and_shortest_and_refuse_one_past(login_as, changes, error):
    fields = {"email": "limits@example.com", "username": "limits", "active": "y"}
    response = login_as("administrator").submit("/admin/user/new/", {**fields, **changes})
    created = fresh(sa.select(sa.func.count()).select_from(User).where(User.email == "limits@example.com")).scalar()
    if error is None:
        assert (response.status_code, created) == (302, 1), page_errors(response)
    else:
        assert (response.status_code, created) == (200, 0)
        assert error in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("password", "error"),
    [
        (STRONG_12, None),
        (STRONG_12[:-1], "Password must be at least 12 characters"),
        (STRONG_128, None),
        (STRONG_128 + "q", "A password can be at most 128 characters long."),
    ],
    ids=["password-12", "password-11", "password-128", "password-129"],
)
def test_an_administrators_own_password_takes_the_longest_and_shortest_and_refuses_one_past(login_as, users,
                                                                                          password, error):  # fmt: skip
    me = users["administrator"]
    before = me.password
    response = login_as("administrator").submit(f"/admin/user/edit/?id={me.id}", user_form(me, new_password=password))
    changed = fresh(sa.select(User.password).where(User.id == me.id)).scalar() != before
    if error is None:
        assert (response.status_code, changed) == (302, True), page_errors(response)
    else:
        assert (response.status_code, changed) == (200, False)
        assert error in response.get_data(as_text=True)


@pytest.mark.parametrize("probe", [2, 0])  # 2: the roles most of the newest accounts hold are asked of each row
@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("flt0_roles_role_name_equals=Moderator", {"moderator"}),
        ("flt0_roles_role_name_equals=Reader", {"reader", "editor"}),
        ("flt0_roles_role_name_contains=or", {"author", "editor", "moderator", "translator", "administrator"}),
        ("flt0_roles_role_name_not_equal=Reader", {"author", "editor", "moderator", "translator", "administrator"}),
        ("flt0_roles_role_name_in_list=Reader,Translator", {"reader", "editor", "moderator", "translator"}),
        ("flt0_roles_role_name_empty=1", {"nobody"}),
        ("flt0_roles_role_name_empty=0", {"reader", "author", "editor", "moderator", "translator", "administrator"}),
        (
            "flt0_roles_role_name_not_in_list=Reader,Author",
            {"editor", "moderator", "translator", "administrator", "nobody"},
        ),
        # The moderator holds Translator too: two roles outside the list, listed and counted once.
        (
            "flt0_roles_role_name_not_in_list=Reader",
            {"author", "editor", "moderator", "translator", "administrator", "nobody"},
        ),  # fmt: skip
    ],
)
def test_a_role_filter_lists_each_account_holding_a_chosen_role_once(
    app, login_as, users, monkeypatch, probe, query, listed
):
    """The filters on the accounts' role names (RoleFilter): the accounts holding one of the roles the condition
    selects, each listed and counted once though the editor holds two of them; "is empty" the account with none,
    which "not in list" (Flask-Admin's own filter) lists too."""
    users["editor"].roles.append(db.session.scalars(sa.select(Role).filter_by(name="Reader")).one())
    users["moderator"].roles.append(db.session.scalars(sa.select(Role).filter_by(name="Translator")).one())
    accounts = {**users, "nobody": create_user("nobody@example.com", GOOD_PASSWORD, [], username="nobody")}
    db.session.commit()
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", probe)
    monkeypatch.setitem(app.config, "SEARCH_FREQUENT_SHARE", 0.01)  # one of the newest two accounts holds them
    html = login_as("administrator").get(f"/admin/user/?{query}").get_data(as_text=True)
    shown = {int(key) for key in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)}
    assert {name for name, account in accounts.items() if account.id in shown} == listed
    assert re.search(r"(\d+) rows? match", html).group(1) == str(len(listed))


@pytest.mark.parametrize(
    ("query", "cap", "shown"),
    [
        # One role: its memberships are its holders (the reader and the editor).
        ("flt0_roles_role_name_equals=Reader", 1, "More than 1 rows match"),
        ("flt0_roles_role_name_equals=Reader", 2, "2 rows match"),
        # Five roles and five holders with seven memberships, as the editor holds three of them.
        ("flt0_roles_role_name_contains=or", 4, "More than 4 rows match"),
        ("flt0_roles_role_name_contains=or", 5, "5 rows match"),  # more memberships than the cap, not holders
        ("flt0_roles_role_name_contains=or", 6, "5 rows match"),
        ("flt0_roles_role_name_contains=or", 7, "5 rows match"),  # memberships up to the cap: counted in memory
        ("flt0_roles_role_name_contains=or&exact_count=1", 4, "5 rows match"),
    ],
)
def test_the_holders_of_the_chosen_roles_are_counted_once_up_to_the_cap(app, login_as, users, monkeypatch, query,
                                                                        cap, shown):  # fmt: skip
    """A role filter's count (count_holders) at LIST_COUNT_CAP's boundary: each account once, however many of the
    chosen roles it holds, and "more than" only when there are more accounts than the cap."""
    roles = {role.name: role for role in db.session.scalars(sa.select(Role))}
    users["editor"].roles.extend([roles["Reader"], roles["Moderator"], roles["Translator"]])
    db.session.commit()
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", cap)
    html = login_as("administrator").get(f"/admin/user/?{query}").get_data(as_text=True)
    assert re.search(r"(More than )?\d+ rows? match", html).group(0) == shown
