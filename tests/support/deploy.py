"""The deployment as docs/deploy.md describes it, run here: gunicorn with docs/deploy/gunicorn.conf.py, nginx with
docs/deploy/nginx.conf in front of it (its paths, ports and certificate replaced by the test's), and the systemd
units with this checkout's paths."""

import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.outages import free_port, port_open, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
# What the documented files name, as a machine set up by docs/deploy.md has it.
DOCUMENTED_APP = "/srv/cms/app"
DOCUMENTED_UPLOADS = "/srv/cms/shared/uploads/"
DOCUMENTED_UPSTREAM = "127.0.0.1:8000"
DOCUMENTED_CERTIFICATE = "/etc/ssl/certs/news.example.org.pem"
DOCUMENTED_KEY = "/etc/ssl/private/news.example.org.key"
HOST = "news.example.org"


def production_env(tmp_path: Path, database_url: str, **more: str) -> dict[str, str]:
    """The environment docs/deploy/cms.env.example sets, with the test's database and folders."""
    return {
        "CMS_CONFIG": "production",
        "CMS_SECRET_KEY": "deploy-test-secret-key",
        "CMS_SECURITY_PASSWORD_SALT": "deploy-test-salt",
        "CMS_SECURITY_TOTP_SECRETS": '{"1": "deploy-test-totp-secret"}',
        "CMS_DATABASE_URL": database_url,
        "CMS_UPLOADS_DIR": str(tmp_path / "uploads"),
        "CMS_EXPORTS_DIR": str(tmp_path / "exports"),
        "CMS_IMPORTS_DIR": str(tmp_path / "imports"),
        "CMS_CATALOG_BUILD_DIR": str(tmp_path / "catalogs"),
        "CMS_TRUSTED_PROXIES": "1",
        **more,
    }


class GunicornFromConfig:
    """`gunicorn -c docs/deploy/gunicorn.conf.py wsgi:app`, as the systemd unit starts it, on a port of its own."""

    def __init__(self, tmp_path: Path, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.log = tmp_path / "gunicorn.log"
        settings = {"CMS_BIND": f"127.0.0.1:{self.port}", "CMS_WORKERS": str(workers), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"), "wsgi:app"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **env, **settings}, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(lambda: port_open(self.port) or self.process.poll() is not None, 120, "gunicorn listening")
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"docs/deploy/nginx.conf no longer says {old!r}: update tests/support/deploy.py"
    return text.replace(old, new)


class Nginx:
    """nginx serving docs/deploy/nginx.conf's server blocks on ports of their own, in front of `upstream_port`,
    with a self-signed certificate; everything it writes stays under `home`."""

    def __init__(self, home: Path, upstream_port: int, uploads: Path) -> None:
        program, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
        if not Path(program).exists() or openssl is None:
            pytest.skip("needs nginx and openssl (apt-get install nginx openssl; .ci/test-tools installs them)")
        home.mkdir(parents=True, exist_ok=True)
        certificate, key = home / "cert.pem", home / "key.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
             "-keyout", str(key), "-out", str(certificate)],
            check=True, capture_output=True,
        )  # fmt: skip
        self.http_port, self.https_port = free_port(), free_port()
        block = (DEPLOY / "nginx.conf").read_text()
        block = _replace(block, DOCUMENTED_UPSTREAM, f"127.0.0.1:{upstream_port}")
        block = _replace(block, "listen 80;", f"listen 127.0.0.1:{self.http_port};")
        block = _replace(block, "listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;")
        block = _replace(block, "listen [::]:80;\n", "")
        block = _replace(block, "listen [::]:443 ssl http2;\n", "")
        block = _replace(block, DOCUMENTED_CERTIFICATE, str(certificate))
        block = _replace(block, DOCUMENTED_KEY, str(key))
        block = _replace(block, f"{DOCUMENTED_APP}/", f"{ROOT}/")
        block = _replace(block, DOCUMENTED_UPLOADS, f"{uploads}/")
        (home / "cms.conf").write_text(block)
        temp = "\n".join(f"    {name}_temp_path {home / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
        # The test's files are its user's own: root's workers read them as root here (never in production).
        user = "user root root;\n" if os.geteuid() == 0 else ""
        (home / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {home / 'nginx.pid'};\nerror_log {home / 'error.log'} info;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    access_log {home / 'access.log'};\n{temp}\n"
            f"    include {home / 'cms.conf'};\n}}\n"
        )
        self.home = home
        self.process = subprocess.Popen(
            [program, "-p", str(home), "-c", str(home / "nginx.conf"), "-e", str(home / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=(home / "stderr.log").open("wb"),
        )  # fmt: skip
        wait_for(lambda: port_open(self.https_port) or self.process.poll() is not None, 30, "nginx listening")
        assert self.process.poll() is None, (home / "stderr.log").read_text()

    def get(self, path: str, https: bool = True) -> tuple[int, dict, bytes]:
        """GET `path` with the server's name as Host, the certificate not checked (it is the test's own)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        port, scheme = (self.https_port, "https") if https else (self.http_port, "http")
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}", headers={"Host": HOST})  # noqa: S310
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirects())
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def unit_with_paths_here(name: str, target: Path) -> Path:
    """docs/deploy/`name` with the documented checkout and virtualenv replaced by this checkout and the running
    Python's, written into `target` (systemd-analyze verify checks that the programs it starts exist)."""
    text = (DEPLOY / name).read_text()
    text = _replace(text, f"{DOCUMENTED_APP}/.venv/bin/", f"{Path(sys.executable).parent}/")
    text = _replace(text, DOCUMENTED_APP, str(ROOT))
    path = target / name
    path.write_text(text)
    return path
