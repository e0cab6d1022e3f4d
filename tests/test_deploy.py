"""docs/deploy.md, tried: gunicorn started with docs/deploy/gunicorn.conf.py on the test's database (SQLite, and
MariaDB with Redis when configured), nginx with docs/deploy/nginx.conf in front of it serving a page, a static file
and an uploaded image, with the headers that keep uploads from running anything; and the systemd units checked by
systemd-analyze."""

import io
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from werkzeug.datastructures import FileStorage

from cms.extensions import db
from cms.media import save_upload
from cms.models import User
from tests.factories import make_post
from tests.images import png
from tests.support.deploy import DEPLOY, ROOT, GunicornFromConfig, Nginx, production_env, unit_with_paths_here
from tests.support.instances import REDIS_URL
from tests.support.outages import app_beside


@pytest.fixture
def served(app, users, tmp_path):
    """A published post with an uploaded image, behind gunicorn and nginx as documented; yields (nginx, post, file
    name, uploads folder)."""
    uploads = tmp_path / "site" / "uploads"
    with app_beside(app, tmp_path / "beside", UPLOADS_DIR=str(uploads)) as site, site.app_context():
        editor = db.session.get(User, users["editor"].id)
        media = save_upload(FileStorage(io.BytesIO(png((40, 30))), filename="pier.png"), editor)
        post = make_post(editor, "published", title="Through the proxy", slug="through", featured_image_id=media.id)
        file_name, slug = media.file_name, post.slug
    more = {"CMS_REDIS_URL": REDIS_URL, "CMS_CACHE_KEY_PREFIX": f"deploy-{uuid.uuid4().hex}-"} if REDIS_URL else {}
    gunicorn = GunicornFromConfig(tmp_path / "site", production_env(tmp_path / "site", app.config["SQLALCHEMY_DATABASE_URI"], **more))  # fmt: skip
    try:
        nginx = Nginx(tmp_path / "nginx", gunicorn.port, uploads)
        try:
            yield nginx, slug, file_name, uploads
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()


def test_nginx_sends_http_to_https(served):
    nginx, *_ = served
    status, headers, _ = nginx.get("/en/", https=False)
    assert (status, headers["Location"]) == (301, "https://news.example.org/en/")


def test_a_page_comes_from_gunicorn_with_the_apps_headers_and_knows_it_was_https(served):
    nginx, slug, file_name, _ = served
    status, headers, body = nginx.get(f"/en/posts/{slug}")
    assert status == 200
    html = body.decode()
    assert "Through the proxy" in html and f"/media/images/{file_name}" in html
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    # X-Forwarded-Proto: https reached the app through gunicorn's forwarded_allow_ips: production sends HSTS.
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_static_files_come_from_nginx_with_nosniff(served):
    nginx, *_ = served
    status, headers, body = nginx.get("/static/site.css")
    assert status == 200 and body == (ROOT / "cms" / "static" / "site.css").read_bytes()
    assert headers["Content-Type"] == "text/css"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "max-age=3600" in headers["Cache-Control"]


def test_uploads_come_from_nginx_as_images_in_a_sandbox_and_nothing_else_is_served(served):
    nginx, _, file_name, uploads = served
    for path in (f"/media/images/{file_name}", f"/media/images/thumbs/{file_name}"):
        status, headers, body = nginx.get(path)
        stored = uploads / "images" / path.removeprefix("/media/images/")
        assert (status, body) == (200, stored.read_bytes()), path
        assert headers["Content-Type"] == "image/png"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"] == "inline"
        assert headers["Content-Security-Policy"].startswith("default-src 'none';")
        assert headers["Content-Security-Policy"].endswith("; sandbox")
    # Whatever else lands in the folder (a file slipped in beside the app) is never served as a page or a script.
    images = uploads / "images"
    (images / "page.html").write_text("<script>alert(1)</script>")
    (images / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    (images / "run.php").write_text("<?php echo 1;")
    (images / "looks.png").write_text("<html><script>alert(1)</script></html>")
    for path in ("page.html", "drawing.svg", "run.php", "../../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"):
        assert nginx.get(f"/media/images/{path}")[0] in (400, 404), path  # nginx refuses a path above its root
    status, headers, _ = nginx.get("/media/images/looks.png")
    assert (status, headers["Content-Type"], headers["X-Content-Type-Options"]) == (200, "image/png", "nosniff")
    assert "sandbox" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("unit", ["cms.service", "cms-worker.service"])
def test_the_systemd_units_verify(tmp_path, unit):
    """systemd-analyze reads the unit as systemd would (it needs no running systemd): syntax, and the program."""
    program = shutil.which("systemd-analyze")
    if program is None:
        pytest.skip("needs systemd-analyze (Debian's systemd package)")
    path = unit_with_paths_here(unit, tmp_path)
    done = subprocess.run([program, "verify", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (0, "")


@pytest.mark.parametrize(
    "name", ["gunicorn.conf.py", "nginx.conf", "cms.service", "cms-worker.service", "cms.env.example"]
)
def test_docs_deploy_md_shows_each_deploy_file_as_it_is(name):
    """The guide copies each file in docs/deploy/ whole: what a reader copies from it is what the tests ran."""
    assert (DEPLOY / name).read_text().rstrip("\n") in (ROOT / "docs" / "deploy.md").read_text()


def test_the_settings_file_read_by_a_shell_gives_a_production_app_with_its_values(tmp_path):
    """The deploy steps source /etc/cms/cms.env in sh (systemd reads it too): the quoted URL and JSON survive."""
    script = (
        "from cms import create_app\napp = create_app()\nc = app.config\n"
        "print(c['SQLALCHEMY_DATABASE_URI'], c['SECURITY_TOTP_SECRETS'], c['TRUSTED_PROXIES'], c['SESSION_COOKIE_SECURE'])"
    )
    command = f'set -a; . "{DEPLOY / "cms.env.example"}"; set +a; exec "{sys.executable}" -c "$0"'
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/sh", "-c", command, script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == (
        "mysql+pymysql://cms:change-me@127.0.0.1:3306/cms?charset=utf8mb4&connect_timeout=3"
        " {'1': 'change-me-and-keep-for-good'} 1 True"
    )
