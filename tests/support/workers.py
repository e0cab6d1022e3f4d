"""Processes that run background exports beside the tests, to be killed: `flask cms worker` (RQ) and the web app
under gunicorn (the thread runner), on the test app's database and export folder, optionally slowed so that a
test can stop them in the middle of an export.

`python -m tests.support.workers worker [--burst]` is `flask --app wsgi cms worker`, and
`gunicorn 'tests.support.workers:web_app()'` serves `wsgi.app`, each slowed when CMS_TEST_SLOW_PROGRESS_SECONDS is
set: an export's progress writes after the first reach the database that many seconds late, as on a database
under load. Nothing of the code under test is replaced."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from tests.support.web import PASSWORD, csrf_token, totp_code

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _slow_progress() -> None:
    """Every export progress write after the first waits CMS_TEST_SLOW_PROGRESS_SECONDS before it reaches the
    database (the heartbeat's own writes do not wait)."""
    seconds = float(os.environ.get("CMS_TEST_SLOW_PROGRESS_SECONDS") or 0)
    if not seconds:
        return
    seen = [0]

    def delay(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE export_job SET") and "done=" in statement.split("WHERE")[0]:
            seen[0] += 1
            if seen[0] > 1:
                time.sleep(seconds)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", delay)


def web_app():
    """The app gunicorn serves (as `wsgi:app`), slowed when asked."""
    _slow_progress()
    from cms import create_app

    return create_app()


def environment(app, home: Path, **settings) -> dict:
    """The variables a process needs to be another instance of `app`: its database, secrets and export folder,
    working folders of its own under `home`, and `settings` as CMS_… variables (no other CMS_… leaks in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CMS_")}
    config = app.config
    env.update(
        PYTHONPATH=str(ROOT),
        CMS_CONFIG="testing",
        CMS_DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        CMS_SECRET_KEY=config["SECRET_KEY"],
        CMS_SECURITY_PASSWORD_SALT=config["SECURITY_PASSWORD_SALT"],
        CMS_SECURITY_TOTP_SECRETS=json.dumps(config["SECURITY_TOTP_SECRETS"]),
        CMS_EXPORTS_DIR=config["EXPORTS_DIR"],
        CMS_UPLOADS_DIR=str(home / "uploads"),
        CMS_IMPORTS_DIR=str(home / "imports"),
        CMS_CATALOG_BUILD_DIR=str(home / "translations"),
    )
    env.update({f"CMS_{name}": str(value) for name, value in settings.items()})
    return env


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process in a session of its own (so it and its children can be killed together), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_worker(env: dict, log: Path, *, burst: bool = False) -> subprocess.Popen:
    return start([sys.executable, "-m", "tests.support.workers", "worker", *(["--burst"] if burst else [])], env, log)


def start_web(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn with one threaded worker, as in production; its base URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
               "--timeout", "120", "tests.support.workers:web_app()"]  # fmt: skip
    process = start(command, env, log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{base}/login", timeout=60).status_code == 200:
                return process, base
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    kill(process)
    raise AssertionError(f"gunicorn did not answer: {log.read_text()[-3000:]}")


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process and its children (its session), then wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=60)


def signed_in(base: str, email: str) -> requests.Session:
    """An HTTP session signed in to the server at `base`, as a browser would be."""
    session = requests.Session()
    token = csrf_token(session.get(f"{base}/login", timeout=30).text)
    response = session.post(
        f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, allow_redirects=False
    )
    assert response.status_code == 302, response.text[:2000]
    step = urlsplit(response.headers["Location"])
    if step.path == "/tf-validate":  # staff: the code of the fixtures' authenticator key (tests.conftest users)
        page = session.get(f"{base}{step.path}?{step.query}", timeout=30).text
        response = session.post(
            f"{base}{step.path}?{step.query}",
            data={"code": totp_code(), "csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:2000]
    return session


def job_id_of(location: str) -> str:
    return re.search(r"/admin/comment/exports/([0-9a-f]{32})/", location).group(1)


if __name__ == "__main__":
    _slow_progress()
    from flask.cli import main

    sys.argv = ["flask", "--app", "wsgi", "cms", *sys.argv[1:]]
    main()
