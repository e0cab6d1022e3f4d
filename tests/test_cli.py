"""The `flask cms` commands."""

import sqlalchemy as sa

from cms.models import Comment, Follow, Post, Role, User
from cms.permissions import DEFAULT_ROLES, Perm
from tests.support.database import fresh


def count(model) -> int:
    return fresh(sa.select(sa.func.count()).select_from(model)).scalar()


def test_init_is_idempotent_and_repairs_role_permissions(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["cms", "init"])
    assert first.exit_code == 0, first.output
    reader = fresh(sa.select(Role).where(Role.name == "Reader")).scalar_one()
    reader.permissions = 0
    from cms.extensions import db

    db.session.commit()
    second = runner.invoke(args=["cms", "init"])
    assert second.exit_code == 0, second.output
    roles = {r.name: r.permissions for r in fresh(sa.select(Role)).scalars()}
    assert roles == {name: int(mask) for name, (mask, _) in DEFAULT_ROLES.items()}
    assert roles["Reader"] == Perm.FOLLOW | Perm.COMMENT
    assert roles["Administrator"] == 0xBF


def test_create_user_with_several_roles(app):
    result = app.test_cli_runner().invoke(
        args=[
            "cms",
            "create-user",
            "Desk@Example.com",
            "--password",
            "a-long-password",
            "--role",
            "Editor",
            "--role",
            "moderator",
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    user = fresh(sa.select(User).where(User.email == "desk@example.com")).scalar_one()
    assert sorted(r.name for r in user.roles) == ["Editor", "Moderator"]
    assert user.confirmed_at is not None


def test_create_user_reports_bad_input_without_a_traceback(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["cms", "create-user", "x@example.com", "--password", "a-long-password", "--role", "Wizard"]
    )
    assert result.exit_code == 1
    assert "Unknown role 'Wizard'" in result.output
    assert count(User) == 0
    result = runner.invoke(args=["cms", "create-user", "nonsense", "--password", "a-long-password"])
    assert result.exit_code == 1 and "Invalid email address" in result.output
    result = runner.invoke(args=["cms", "create-user", "y@example.com", "--password", "short"])
    assert result.exit_code == 1 and "at least 12 characters" in result.output


def test_seed_creates_one_account_per_role_and_the_requested_rows(app):
    result = app.test_cli_runner().invoke(
        args=["cms", "seed", "--users", "30", "--posts", "25", "--comments", "120", "--follows", "15"]
    )
    assert result.exit_code == 0, result.output
    for role in DEFAULT_ROLES:
        assert f"{role.lower()}@example.com" in result.output
    assert count(User) == 6 + 30
    assert count(Post) == 25
    assert count(Comment) == 120
    assert count(Follow) == 15
    admin = fresh(sa.select(User).where(User.email == "administrator@example.com")).scalar_one()
    assert [r.name for r in admin.roles] == ["Administrator"]


def test_seed_twice_keeps_one_demo_account_per_role(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(
            args=["cms", "seed", "--users", "2", "--posts", "2", "--comments", "2", "--follows", "1"]
        )
        assert result.exit_code == 0, result.output
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email.like("%@example.com"))).scalar() == 6


def test_seed_refuses_negative_counts(app):
    result = app.test_cli_runner().invoke(args=["cms", "seed", "--posts", "-1"])
    assert result.exit_code == 2
    assert count(Post) == 0
