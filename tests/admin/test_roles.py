"""The roles view: permissions edited as check boxes, and no lock-out through a role."""

import json
from html import unescape

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import AuditLog, Role
from cms.permissions import DEFAULT_ROLES, Perm
from tests.support.database import fresh


def role(name: str) -> Role:
    return fresh(sa.select(Role).where(Role.name == name)).scalar_one()


def test_edit_form_shows_the_granted_permissions_checked(login_as, users):
    editor = role("Editor")
    html = login_as("administrator").get(f"/admin/role/edit/?id={editor.id}").get_data(as_text=True)
    for name in ("follow", "comment", "write", "publish"):
        assert 'checked id="permissions-' in html and f'value="{name}"' in html
    assert html.count("checked") >= 4


def test_admin_creates_a_role_from_check_boxes(login_as, users):
    response = login_as("administrator").submit(
        "/admin/role/new/", {"name": "Fact checker", "description": "Reads drafts", "permissions": ["write", "comment"]}
    )
    assert response.status_code == 302
    created = role("Fact checker")
    assert created.permissions == Perm.WRITE | Perm.COMMENT
    assert created.get_permissions() == {"write", "comment"}


def test_list_shows_permission_names(login_as, users):
    html = login_as("administrator").get("/admin/role/").get_data(as_text=True)
    assert "follow, comment, write, publish" in html


def test_unknown_permission_name_is_a_form_error(login_as, users):
    response = login_as("administrator").submit("/admin/role/new/", {"name": "Odd", "permissions": ["superpowers"]})
    assert response.status_code == 200
    assert "not a valid choice" in response.get_data(as_text=True).lower()


def test_admin_cannot_strip_admin_from_own_only_admin_role(login_as, users):
    admin_role = role("Administrator")
    response = login_as("administrator").submit(
        f"/admin/role/edit/?id={admin_role.id}", {"name": "Administrator", "permissions": ["follow"]}
    )
    assert response.status_code == 200
    assert "would remove your own administrator rights" in response.get_data(as_text=True)
    assert role("Administrator").permissions & Perm.ADMIN


def test_admin_cannot_delete_own_only_admin_role(login_as, users):
    browser = login_as("administrator")
    admin_role = role("Administrator")
    response = browser.post(
        "/admin/role/delete/", data={"id": admin_role.id, "csrf_token": browser.csrf()}, follow_redirects=True
    )
    assert "would remove your own administrator rights" in response.get_data(as_text=True)
    assert role("Administrator") is not None


@pytest.mark.parametrize("how", ["delete", "bulk"])
def test_deleting_a_role_records_each_holder_losing_it(login_as, users, how):
    """The memberships went by the database's cascade: the log had the role's deletion and nothing of the
    accounts whose roles changed."""
    admin = login_as("administrator")
    assert admin.submit("/admin/role/new/", {"name": "Writers", "permissions": ["write"]}).status_code == 302
    writers = role("Writers")
    for holder in (users["reader"], users["translator"]):
        holder.roles.append(writers)
    db.session.commit()
    if how == "delete":
        response = admin.post("/admin/role/delete/", data={"id": writers.id, "csrf_token": admin.csrf()})
    else:
        form = {"action": "delete", "rowid": [str(writers.id)], "csrf_token": admin.csrf()}
        response = admin.post("/admin/role/action/", data=form)
    assert response.status_code == 302
    assert fresh(sa.select(sa.func.count()).select_from(Role).where(Role.name == "Writers")).scalar() == 0
    for holder, kept in ((users["reader"], "Reader"), (users["translator"], "Translator")):
        entries = (
            fresh(
                sa.select(AuditLog.changes).where(
                    AuditLog.object_type == "User", AuditLog.object_id == str(holder.id), AuditLog.action == "update"
                )
            )
            .scalars()
            .all()
        )
        assert entries and json.loads(entries[-1])["roles"] == [sorted([kept, "Writers"]), [kept]], entries


def test_duplicate_role_name_is_refused_without_a_half_written_row(login_as, users):
    response = login_as("administrator").submit("/admin/role/new/", {"name": "Editor", "permissions": ["follow"]})
    assert response.status_code == 200
    assert fresh(sa.select(sa.func.count()).select_from(Role).where(Role.name == "Editor")).scalar() == 1


@pytest.mark.parametrize(
    "name, message",
    [("editor", "Another role has this name."), (" EDITOR ", "Another role has this name."),
     ("   ", "A role needs a name."), ("\u200b", "A role needs a name."),
     # "Editor" and a zero-width space showed as a second Editor; a comma split the role in an import's roles cell.
     ("Editor\u200b", "A role's name cannot hold invisible characters.|Already exists."),  # MariaDB: Editor
     ("Fact\u200dchecker", "A role's name cannot hold invisible characters."),
     ("Fact, checker", "A role's name cannot hold a comma or a semicolon."),
     ("Fact; checker", "A role's name cannot hold a comma or a semicolon.")],
)  # fmt: skip
def test_a_role_name_in_another_case_or_of_white_space_is_refused(login_as, users, name, message):
    """`editor` beside Editor took Editor's place in imports (which look roles up without regard to case); a name
    of spaces was kept as a blank role."""
    response = login_as("administrator").submit("/admin/role/new/", {"name": name, "permissions": ["follow"]})
    html = unescape(response.get_data(as_text=True))  # MariaDB's collation: the form's own check finds it first
    refused = any(text in html for text in message.split("|"))
    assert response.status_code == 200 and (refused or "Another" in message and "Already exists." in html)
    assert fresh(sa.select(sa.func.count()).select_from(Role)).scalar() == len(DEFAULT_ROLES)


def test_the_built_in_roles_keep_their_names_and_stay(login_as, users):
    """Renamed or deleted, Reader left new sign-ups with no role at all."""
    browser = login_as("administrator")
    reader = role("Reader")
    response = browser.submit(f"/admin/role/edit/?id={reader.id}", {"name": "Member", "permissions": ["follow"]})
    assert "The built-in role Reader keeps its name." in response.get_data(as_text=True)
    deleted = browser.post("/admin/role/delete/", data={"id": reader.id, "csrf_token": browser.csrf()},
                           follow_redirects=True)  # fmt: skip
    assert "The built-in role Reader cannot be deleted." in deleted.get_data(as_text=True)
    assert role("Reader").permissions == reader.permissions
    made = browser.submit("/admin/role/new/", {"name": "Fact checker", "permissions": ["follow"]})
    assert made.status_code == 302
    checker = role("Fact checker")
    assert (
        browser.submit(f"/admin/role/edit/?id={checker.id}", {"name": "Checker", "permissions": ["follow"]}).status_code
        == 302
    )
    gone = browser.post("/admin/role/delete/", data={"id": checker.id, "csrf_token": browser.csrf()})
    assert gone.status_code == 302 and fresh(sa.select(Role).where(Role.name == "Checker")).first() is None
