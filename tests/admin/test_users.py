"""The users view: no password hashes, working new accounts, and no admin lock-out."""

import pytest
import sqlalchemy as sa

from cms.models import Role, User
from tests.support.database import fresh
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


def test_admin_creates_an_account_that_can_sign_in(app, login_as):
    admin = login_as("administrator")
    response = admin.submit(
        "/admin/user/new/",
        {
            "email": "New.Person@Example.com",
            "username": "newperson",
            "active": "y",
            "roles": [role_id("Author")],
            "new_password": "a-long-password",
        },  # fmt: skip
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    created = fresh(sa.select(User).where(User.username == "newperson")).scalar_one()
    assert created.email == "new.person@example.com"
    assert [r.name for r in created.roles] == ["Author"]
    assert created.fs_uniquifier
    Browserish(app.test_client()).login("new.person@example.com", "a-long-password")


def test_new_account_without_password_is_refused(login_as):
    response = login_as("administrator").submit(
        "/admin/user/new/", {"email": "nopw@example.com", "username": "nopw", "active": "y"}
    )
    assert response.status_code == 200
    assert "A new account needs a password." in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.username == "nopw")).scalar() == 0


def test_duplicate_email_differing_in_case_is_a_form_error(login_as, users):
    response = login_as("administrator").submit(
        "/admin/user/new/",
        {"email": "READER@example.com", "username": "another", "active": "y", "new_password": "a-long-password"},
    )
    assert response.status_code == 200
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.username == "another")).scalar() == 0


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
    ],
    ids=["email", "username-too-long", "unknown-locale", "unknown-role"],
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
        ({"new_password": STRONG_12}, None),
        ({"new_password": STRONG_12[:-1]}, "Password must be at least 12 characters"),
        ({"new_password": STRONG_128}, None),
        ({"new_password": STRONG_128 + "q"}, "A password can be at most 128 characters long."),
        ({"username": "abc"}, None),
        ({"username": "ab"}, "Field must be between 3 and 64 characters long."),
        ({"username": "u" * 64}, None),
        ({"username": "u" * 65}, "Field must be between 3 and 64 characters long."),
    ],
    ids=["password-12", "password-11", "password-128", "password-129", "username-3", "username-2", "username-64",
         "username-65"],
)  # fmt: skip
def test_account_fields_accept_their_longest_and_shortest_and_refuse_one_past(login_as, changes, error):
    fields = {"email": "limits@example.com", "username": "limits", "active": "y", "new_password": "a-long-password"}
    response = login_as("administrator").submit("/admin/user/new/", {**fields, **changes})
    created = fresh(sa.select(sa.func.count()).select_from(User).where(User.email == "limits@example.com")).scalar()
    if error is None:
        assert (response.status_code, created) == (302, 1), page_errors(response)
    else:
        assert (response.status_code, created) == (200, 0)
        assert error in response.get_data(as_text=True)
