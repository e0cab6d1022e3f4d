"""Mailed confirmation and reset links: their hash is cheap to make (an import mails thousands), and links
minted before the change keep working until they expire."""

import sqlalchemy as sa
from flask_security import hash_password
from flask_security.confirmable import generate_confirmation_token
from flask_security.recoverable import generate_reset_password_token
from passlib.context import CryptContext

from cms.accounts import create_user
from cms.extensions import db, security
from cms.models import User
from tests.support.database import fresh
from tests.support.web import Browserish

OLD_SCHEME = CryptContext(schemes=["sha256_crypt"])  # Flask-Security's default: about a second per link


def _unconfirmed():
    user = create_user("new.member@example.com", "a-long-enough-passphrase", ["Reader"], confirmed=False)
    db.session.commit()
    return user


def _payload(serializer, token: str) -> list:
    return serializer.loads_unsafe(token)[1]


def test_new_links_carry_a_sha512_digest_not_a_slow_crypt(app):
    user = _unconfirmed()
    with app.test_request_context():
        confirm = _payload(security.confirm_serializer, generate_confirmation_token(user))
        reset = _payload(security.reset_serializer, generate_reset_password_token(user))
    for digest in (confirm[1], reset[1]):
        assert not digest.startswith("$5$") and len(digest) == 128 and int(digest, 16)


def test_a_confirmation_link_minted_with_the_old_scheme_still_confirms(app, client):
    user = _unconfirmed()
    token = security.confirm_serializer.dumps([str(user.fs_uniquifier), OLD_SCHEME.hash(user.email)])
    page = Browserish(client).get(f"/confirm/{token}", follow_redirects=True).get_data(as_text=True)
    assert "Your email has been confirmed" in page
    assert fresh(sa.select(User.confirmed_at).where(User.id == user.id)).scalar() is not None


def test_a_reset_link_minted_with_the_old_scheme_still_resets(app, client):
    user = _unconfirmed()
    user.password = hash_password("a-long-enough-passphrase")
    db.session.commit()
    token = security.reset_serializer.dumps([str(user.fs_uniquifier), OLD_SCHEME.hash(user.password)])
    response = Browserish(client).get(f"/reset/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Invalid reset password token" not in page and 'name="password"' in page
