"""Permission bits, role masks and what Flask-Security's identity loader grants from them."""

import pytest
from flask_principal import Identity, identity_loaded
from flask_security import permissions_required
from werkzeug.exceptions import Forbidden

from cms.accounts import create_user
from cms.models import Role
from cms.permissions import DEFAULT_ROLES, Perm, mask_of, names_of, user_can


def test_bits_match_the_published_values():
    assert [int(p) for p in Perm] == [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x80]


@pytest.mark.parametrize(
    ("role", "names"),
    [
        ("Reader", {"follow", "comment"}),
        ("Author", {"follow", "comment", "write"}),
        ("Editor", {"follow", "comment", "write", "publish"}),
        ("Moderator", {"follow", "comment", "moderate"}),
        ("Translator", {"follow", "comment", "translate"}),
        ("Administrator", {"follow", "comment", "write", "moderate", "publish", "translate", "admin"}),
    ],
)
def test_default_roles_grant_exactly_their_permissions(role, names):
    mask, _ = DEFAULT_ROLES[role]
    assert names_of(mask) == names
    assert mask_of(names) == mask
    assert Role(name=role, permissions=int(mask)).get_permissions() == names


def test_identity_holds_the_union_of_all_roles(app):
    from flask_security import login_user

    user = create_user("two@example.com", "a-long-password", ["Moderator", "Translator"])
    assert user_can(user, Perm.MODERATE) and user_can(user, Perm.TRANSLATE) and not user_can(user, Perm.PUBLISH)
    with app.test_request_context():
        login_user(user)
        identity = Identity(user.fs_uniquifier)
        identity_loaded.send(app, identity=identity)
        needs = {(n.method, n.value) for n in identity.provides}
    assert ("role", "Moderator") in needs and ("role", "Translator") in needs
    assert {v for m, v in needs if m == "fsperm"} == {"follow", "comment", "moderate", "translate"}


def test_flask_security_permission_decorators_see_the_bits(app):
    from flask_security import login_user

    user = create_user("edith@example.com", "a-long-password", ["Editor"])

    @permissions_required("publish")
    def publish_view():
        return "ok"

    @permissions_required("moderate")
    def moderate_view():
        return "ok"

    with app.test_request_context():
        login_user(user)
        assert publish_view() == "ok"
        with pytest.raises(Forbidden):
            moderate_view()


def test_a_role_with_only_admin_holds_every_permission(app):
    """ADMIN is expanded in one place, Role.get_permissions: identity needs, decorators and user checks agree."""
    from flask_security import login_user

    from cms.extensions import db

    db.session.add(Role(name="Owner", permissions=int(Perm.ADMIN)))
    db.session.commit()
    user = create_user("owner@example.com", "a-long-password", ["Owner"])
    assert Role(name="x", permissions=int(Perm.ADMIN)).get_permissions() == {
        "follow",
        "comment",
        "write",
        "moderate",
        "publish",
        "translate",
        "admin",
    }
    assert all(user_can(user, perm) for perm in Perm)

    @permissions_required("moderate", "translate")
    def both_view():
        return "ok"

    with app.test_request_context():
        login_user(user)
        assert both_view() == "ok"


def test_no_permission_for_nobody(app):
    assert not user_can(None, Perm.FOLLOW)
