"""Configuration: environment overrides, secrets, database engine options."""

import re

import pytest
from flask_migrate import upgrade
from flask_security.recoverable import generate_reset_password_token

from cms import create_app
from cms.accounts import create_user, ensure_default_roles
from cms.cli import MIGRATIONS_DIR
from cms.extensions import db


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CMS_SECRET_KEY"):
        create_app("production", DATABASE_URL=f"sqlite:///{tmp_path}/p.db")


def test_production_refuses_to_start_without_a_password_salt(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_SECRET_KEY", "s3cret-from-env")
    monkeypatch.delenv("CMS_SECURITY_PASSWORD_SALT", raising=False)
    with pytest.raises(RuntimeError, match="CMS_SECURITY_PASSWORD_SALT"):
        create_app("production", DATABASE_URL=f"sqlite:///{tmp_path}/p.db")


def test_production_refuses_to_start_without_two_factor_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("CMS_SECURITY_PASSWORD_SALT", "salt-from-env")
    monkeypatch.delenv("CMS_SECURITY_TOTP_SECRETS", raising=False)
    with pytest.raises(RuntimeError, match="CMS_SECURITY_TOTP_SECRETS"):
        create_app("production", DATABASE_URL=f"sqlite:///{tmp_path}/p.db")


def test_production_starts_with_a_secret_key_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("CMS_SECURITY_PASSWORD_SALT", "salt-from-env")
    monkeypatch.setenv("CMS_SECURITY_TOTP_SECRETS", '{"1": "totp-secret-from-env"}')
    monkeypatch.setenv("CMS_DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    app = create_app("production")
    assert app.config["SECRET_KEY"] == "s3cret-from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/p.db"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECURITY_TOTP_SECRETS"] == {"1": "totp-secret-from-env"}


def test_development_generates_a_secret_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)
    first = create_app("development", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    second = create_app("development", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_development_keeps_its_password_salt_when_the_key_changes(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECURITY_PASSWORD_SALT", raising=False)
    first = create_app("development", SECRET_KEY="first-key", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    rotated = create_app("development", SECRET_KEY="rotated-key", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    assert first.config["SECURITY_PASSWORD_SALT"] == rotated.config["SECURITY_PASSWORD_SALT"]
    assert "rotated-key" not in rotated.config["SECURITY_PASSWORD_SALT"]


def test_development_keeps_its_two_factor_secrets_when_the_key_changes(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECURITY_TOTP_SECRETS", raising=False)
    first = create_app("development", SECRET_KEY="first-key", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    rotated = create_app("development", SECRET_KEY="rotated-key", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    assert first.config["SECURITY_TOTP_SECRETS"] == rotated.config["SECURITY_TOTP_SECRETS"]
    assert "rotated-key" not in rotated.config["SECURITY_TOTP_SECRETS"]["1"]


def test_cms_config_selects_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_CONFIG", "testing")
    monkeypatch.setenv("CMS_SECRET_KEY", "x")
    monkeypatch.setenv("CMS_DATABASE_URL", f"sqlite:///{tmp_path}/t.db")
    assert create_app().config["TESTING"] is True
    monkeypatch.setenv("CMS_CONFIG", "staging")
    with pytest.raises(RuntimeError, match="not one of"):
        create_app()


def test_every_setting_can_be_overridden_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_UPLOADS_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("CMS_REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("CMS_COMMENTS_PREMODERATED", "false")
    app = create_app("testing", SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path}/t.db")
    assert app.config["UPLOADS_DIR"] == str(tmp_path / "media")
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert app.config["COMMENTS_PREMODERATED"] is False


def test_sqlite_file_in_the_instance_folder_is_the_default(monkeypatch):
    monkeypatch.delenv("CMS_DATABASE_URL", raising=False)
    app = create_app("testing", SECRET_KEY="x")
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/cms.db")


def test_mysql_urls_get_pre_ping_and_a_short_recycle(tmp_path):
    app = create_app("testing", SECRET_KEY="x", DATABASE_URL="mysql+pymysql://u:p@127.0.0.1/db?charset=utf8mb4")
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is True
    assert options["pool_recycle"] < 28800


def _production(monkeypatch, tmp_path, key: str, fallbacks: str | None = None):
    monkeypatch.setenv("CMS_SECRET_KEY", key)
    monkeypatch.setenv("CMS_SECURITY_PASSWORD_SALT", "the-salt-kept-for-good")
    monkeypatch.setenv("CMS_SECURITY_TOTP_SECRETS", '{"1": "the-totp-secret-kept-for-good"}')
    if fallbacks:
        monkeypatch.setenv("CMS_SECRET_KEY_FALLBACKS", fallbacks)
    else:
        monkeypatch.delenv("CMS_SECRET_KEY_FALLBACKS", raising=False)
    # The test client speaks plain HTTP: production's secure-only cookie would not come back.
    return create_app("production", DATABASE_URL=f"sqlite:///{tmp_path}/rotate.db", SESSION_COOKIE_SECURE=False)


def _sign_in(client, password: str):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": "ed@example.com", "password": password, "csrf_token": token.group(1)})


def test_a_rotated_secret_key_keeps_passwords_and_sessions_and_with_a_fallback_mailed_links(monkeypatch, tmp_path):
    before = _production(monkeypatch, tmp_path, "the-leaked-key")
    with before.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        ensure_default_roles()
        user = create_user("ed@example.com", "an old but good passphrase", ["Reader"], username="eddie")
        db.session.commit()
        with before.test_request_context():
            link = f"/reset/{generate_reset_password_token(user)}"
    signed_in = before.test_client()
    assert _sign_in(signed_in, "an old but good passphrase").status_code == 302
    assert signed_in.get("/change").status_code == 200
    cookie = signed_in.get_cookie("session").value

    rotated = _production(monkeypatch, tmp_path, "the-new-key", fallbacks='["the-leaked-key"]')
    assert _sign_in(rotated.test_client(), "an old but good passphrase").status_code == 302
    assert 'name="password"' in rotated.test_client().get(link).get_data(as_text=True)  # the old key's link

    done = _production(monkeypatch, tmp_path, "the-new-key")  # the fallback dropped
    assert 'name="password"' not in done.test_client().get(link, follow_redirects=True).get_data(as_text=True)
    # Sessions live on the server under a random id that no key signs: a rotation leaves them signed in.
    carried = done.test_client()
    carried.set_cookie("session", cookie)
    assert carried.get("/change").status_code == 200
    fresh = done.test_client()
    assert _sign_in(fresh, "an old but good passphrase").status_code == 302
    assert fresh.get("/change").status_code == 200
