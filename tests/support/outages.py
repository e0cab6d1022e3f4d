"""Real faults for the outage tests: a MariaDB server of the test's own to stop and start, a Redis to stop and
start, ports where nothing (or something silent) answers, a gunicorn serving an app, a tiny disk to fill, and an
app beside the test's on the same database with settings of its own."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from cms.extensions import db
from tests.support.database import backend_of, make_app

ROOT = Path(__file__).resolve().parents[2]
MAY_RESTART = os.environ.get("CMS_TEST_MAY_RESTART_MARIADB") == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll `condition` until it holds (a server starting or stopping: not a clock a test could set)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


# -- a MariaDB server of the test's own ---------------------------------------------------------------
def mariadb_programs() -> dict[str, str] | None:
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin") for name in
             ("mariadbd", "mariadb-install-db", "mysqladmin")}  # fmt: skip
    return None if None in found.values() else found  # type: ignore[return-value]


def skip_unless_may_restart_mariadb() -> dict[str, str]:
    """The programs, or a skip saying why: the test starts, stops and restarts a MariaDB server (its own, on a
    port of its own, never the shared one), which only CI and machines that opt in allow."""
    if not MAY_RESTART:
        pytest.skip("stops and starts a MariaDB server: set CMS_TEST_MAY_RESTART_MARIADB=1 (as .ci/run does) to run")
    programs = mariadb_programs()
    if programs is None:
        pytest.skip("needs mariadbd, mariadb-install-db and mysqladmin to run a MariaDB server of its own")
    return programs


class PrivateMariaDB:
    """A mariadbd with its own data folder, socket and port: restarted as the test says, so test runs sharing the
    machine's MariaDB never notice."""

    # Small InnoDB files and buffers: a data folder of ~20 MB that starts in about a second.
    OPTIONS = ("--no-defaults", "--user=root", "--skip-name-resolve", "--innodb-log-file-size=4M",
               "--innodb-buffer-pool-size=16M")  # fmt: skip

    def __init__(self, programs: dict[str, str]) -> None:
        self.programs = programs
        self.home = Path(tempfile.mkdtemp(prefix="cms-mariadb-"))  # short: a socket path has ~100 characters
        self.datadir, self.socket = self.home / "data", self.home / "mariadbd.sock"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def install(self) -> None:
        subprocess.run(
            [self.programs["mariadb-install-db"], *self.OPTIONS, f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.programs["mariadbd"], *self.OPTIONS, f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--pid-file={self.home / 'mariadbd.pid'}",
             f"--log-error={self.home / 'error.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(self.answers, 120, f"MariaDB answering on port {self.port}")

    def answers(self) -> bool:
        ping = [self.programs["mysqladmin"], "--no-defaults", "-h127.0.0.1", f"-P{self.port}", "-uroot", "ping"]
        return subprocess.run(ping, capture_output=True, timeout=30).returncode == 0

    def stop(self) -> None:
        """A clean shutdown, as `mysqladmin shutdown` gives the shared server; returns once the port is closed."""
        subprocess.run(
            [self.programs["mysqladmin"], "--no-defaults", f"--socket={self.socket}", "-uroot", "shutdown"],
            capture_output=True, timeout=120,
        )  # fmt: skip
        if self.process is not None:
            self.process.wait(timeout=120)
        wait_for(lambda: not port_open(self.port), 60, f"port {self.port} closing")

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url(), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        return self.url(name)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=120)
        shutil.rmtree(self.home, ignore_errors=True)


# -- Redis ---------------------------------------------------------------------------------------------
class PrivateRedis:
    """A redis-server of the test's own, on a port of its own, with nothing saved."""

    def __init__(self) -> None:
        self.program = shutil.which("redis-server")
        if self.program is None:
            pytest.skip("needs redis-server to stop and start a Redis of its own")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: port_open(self.port), 30, f"Redis answering on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        wait_for(lambda: not port_open(self.port), 30, f"port {self.port} closing")


class ClosingServer:
    """A TCP port that accepts every connection and closes it at once (a Redis that is going away), counting
    the connections: how often the app asked."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                conn.close()

    def close(self) -> None:
        self.listener.close()


class SilentServer:
    """A TCP port that accepts connections and never answers (a Redis hung, or a network that drops replies)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.listener.accept()[0])

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


# -- apps ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def app_beside(app, tmp_path: Path, **settings):
    """Another app on `app`'s database (its own folders under `tmp_path`, no Redis unless given), for settings
    read only when an app is built (the uploads folder, Redis)."""
    other = make_app(backend_of(app), tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], **settings)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


class Gunicorn:
    """`gunicorn wsgi:app` in production settings, as deployed, on a port of its own."""

    def __init__(self, tmp_path: Path, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.log = tmp_path / "gunicorn.log"
        settings = {
            "CMS_CONFIG": "production",
            "CMS_SECRET_KEY": "outage-test-secret-key",
            "CMS_SECURITY_PASSWORD_SALT": "outage-test-salt",
            "CMS_SECURITY_TOTP_SECRETS": '{"1": "outage-test-totp-secret"}',
            "CMS_UPLOADS_DIR": str(tmp_path / "uploads"),
            "CMS_EXPORTS_DIR": str(tmp_path / "exports"),
            "CMS_IMPORTS_DIR": str(tmp_path / "imports"),
            "CMS_CATALOG_BUILD_DIR": str(tmp_path / "translations"),
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                   "--timeout", "60", "wsgi:app"]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **settings, **env}, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(lambda: port_open(self.port) or self.process.poll() is not None, 120, "gunicorn listening")
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    def get(self, path: str, **headers) -> tuple[int, dict, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def workers(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


# -- a tiny disk ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "256k", read_only: bool = False):
    """A tmpfs of `size` mounted at `path` (read-only if asked), or a skip saying why it cannot be."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    programs = shutil.which("mount"), shutil.which("umount")
    if None in programs:
        pytest.skip("needs mount and umount to make a small disk")
    mount = subprocess.run([programs[0], "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.decode().strip() or 'mount failed'})")
    try:
        yield path
    finally:
        subprocess.run([programs[1], "-l", str(path)], capture_output=True)


def fill(disk: Path, leave: int) -> None:
    """Fill `disk` with one file until only about `leave` bytes are free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / "filler").open("wb") as fh:
        fh.write(b"\0" * max(free - leave, 0))


def files_under(path: Path) -> list[str]:
    """Every file below `path` (relative names), hidden ones included."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []
