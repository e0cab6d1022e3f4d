"""Compiled templates (cms/template_cache.py): a started app serves its first pages without compiling a template,
and a later process reads what an earlier one compiled from TEMPLATE_CACHE_DIR instead of compiling it again."""

import stat

import pytest

from cms import template_cache
from tests.support.database import make_app

# Pages a new worker is likely to be asked for first: the front page, the sign-in form (and a staff list).
ANONYMOUS_FIRST_PAGES = ["/en/", "/login"]


def count_compiles(app, monkeypatch) -> list[str]:
    """The names of the templates `app` compiles from now on (Jinja's own compile step, still run)."""
    compiled: list[str] = []
    compile_source = app.jinja_env.compile

    def counting(source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return compile_source(source, name, filename, raw, defer_init)

    monkeypatch.setattr(app.jinja_env, "compile", counting)
    return compiled


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "template-cache"


def test_an_app_that_loads_its_templates_at_start_compiles_none_for_its_first_pages(
    app, login_as, tmp_path, cache_dir, monkeypatch
):
    # Signed in first: each app made replaces the authenticator codes' checker of the one Security object, and
    # the moderator's key was stored with the one current when the users were made.
    session = login_as("moderator").get_cookie("session").value
    started = make_app("sqlite", tmp_path, DATABASE_URL=app.config["DATABASE_URL"],
                       TEMPLATE_CACHE_DIR=str(cache_dir), LOAD_TEMPLATES_AT_START=True)  # fmt: skip
    compiled = count_compiles(started, monkeypatch)
    reader = started.test_client()
    for path in ANONYMOUS_FIRST_PAGES:
        assert reader.get(path).status_code == 200, path
    moderator = started.test_client()
    moderator.set_cookie("session", session)
    queue = moderator.get("/admin/comment/")
    assert queue.status_code == 200
    assert "Comments" in queue.get_data(as_text=True)
    assert compiled == []


def test_an_app_that_does_not_compiles_each_template_on_its_first_use(app, tmp_path, monkeypatch):
    lazy = make_app("sqlite", tmp_path, DATABASE_URL=app.config["DATABASE_URL"], TEMPLATE_CACHE_DIR="")
    compiled = count_compiles(lazy, monkeypatch)
    assert lazy.test_client().get("/login").status_code == 200
    assert "security/login_user.html" in compiled


def test_a_later_process_reads_the_compiled_templates_instead_of_compiling_them(app, tmp_path, cache_dir, monkeypatch):
    first = make_app("sqlite", tmp_path / "first", DATABASE_URL=app.config["DATABASE_URL"],
                     TEMPLATE_CACHE_DIR=str(cache_dir))  # fmt: skip
    loaded = template_cache.load_templates(first)
    assert loaded > 100  # the app's, Flask-Admin's and Flask-Security's pages and mails
    assert len(list(cache_dir.glob("*.cache"))) == loaded
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700  # compiled code is run as read: no one else writes it

    later = make_app("sqlite", tmp_path / "later", DATABASE_URL=app.config["DATABASE_URL"],
                     TEMPLATE_CACHE_DIR=str(cache_dir))  # fmt: skip
    compiled = count_compiles(later, monkeypatch)
    assert template_cache.load_templates(later) == loaded
    assert compiled == []
    assert later.test_client().get("/login").status_code == 200


def test_without_a_cache_folder_nothing_is_written(app, tmp_path):
    uncached = make_app("sqlite", tmp_path, DATABASE_URL=app.config["DATABASE_URL"], TEMPLATE_CACHE_DIR="")
    assert uncached.jinja_env.bytecode_cache is None
    template_cache.load_templates(uncached)
    assert not (tmp_path / "template-cache").exists()
