"""Configuration: environment overrides, secrets, database engine options."""

import pytest

from cms import create_app


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CMS_SECRET_KEY"):
        create_app("production", DATABASE_URL=f"sqlite:///{tmp_path}/p.db")


def test_production_starts_with_a_secret_key_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CMS_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("CMS_DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    app = create_app("production")
    assert app.config["SECRET_KEY"] == "s3cret-from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/p.db"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_generates_a_secret_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)
    first = create_app("development", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    second = create_app("development", DATABASE_URL=f"sqlite:///{tmp_path}/d.db")
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


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
