"""An audit entry names the row it is about, for rows the console creates too: a create entry was collected
before SQLAlchemy gave the new row its identity, so it had no id, and filtering the log by the row's id missed
how it began."""

import sqlalchemy as sa

from cms.models import AuditLog, Post, Role, User
from tests.support.database import fresh


def entries(object_type: str, object_id: str) -> list[str]:
    query = sa.select(AuditLog.action).where(AuditLog.object_type == object_type, AuditLog.object_id == object_id)
    return list(fresh(query.order_by(AuditLog.id)).scalars())


def test_console_created_rows_are_named_by_their_id_in_the_audit_log(login_as, users):
    admin = login_as("administrator")
    author_role = fresh(sa.select(Role.id).where(Role.name == "Author")).scalar_one()
    new_user = {"email": "new@example.com", "username": "newbie", "active": "y", "roles": [author_role]}
    assert admin.submit("/admin/user/new/", new_user).status_code == 302
    assert admin.submit("/admin/role/new/", {"name": "Checkers", "permissions": ["follow"]}).status_code == 302
    new_post = {"title": "Fresh", "body": "b", "status": "draft", "locale": "en", "author": users["editor"].id}
    assert login_as("editor").submit("/admin/post/new/", new_post).status_code == 302

    user_id = fresh(sa.select(User.id).where(User.username == "newbie")).scalar_one()
    role_id = fresh(sa.select(Role.id).where(Role.name == "Checkers")).scalar_one()
    post_id = fresh(sa.select(Post.id).where(Post.title == "Fresh")).scalar_one()
    assert entries("User", str(user_id))[:1] == ["create"]
    assert entries("Role", str(role_id)) == ["create"]
    assert entries("Post", str(post_id))[:1] == ["create"]
    assert fresh(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.object_id == "")).scalar() == 0
