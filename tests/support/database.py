"""Test databases: SQLite always, MariaDB when CMS_TEST_DATABASE_URL is set; apps bound to them; reading
what requests wrote; counting statements."""

import os
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from cms import create_app
from cms.extensions import db
from cms.search import SEARCH_TABLES

BACKENDS = ["sqlite"] + (["mariadb"] if os.environ.get("CMS_TEST_DATABASE_URL") else [])


def drop_everything(engine) -> None:
    """Drop every table (including alembic_version) so migrations start from empty."""
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(meta.sorted_tables):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(table.name)}"))
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=1"))


def mariadb_url() -> str:
    """CMS_TEST_DATABASE_URL, or with several pytest-xdist workers one database per worker beside it."""
    url = sa.engine.make_url(os.environ["CMS_TEST_DATABASE_URL"])
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        url = url.set(database=f"{url.database}_{worker}")
        create_mariadb_database(url)
    return url.render_as_string(hide_password=False)


def create_mariadb_database(url) -> None:
    """Create the database `url` names on its MariaDB server, utf8mb4 as the app needs, if it is not there."""
    server = sa.create_engine(url._replace(database=None))
    with server.begin() as conn:
        conn.execute(
            sa.text(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    server.dispose()


def make_app(backend: str, tmp_dir: Path, **overrides):
    url = overrides.pop("DATABASE_URL", None)
    url = url or (mariadb_url() if backend == "mariadb" else f"sqlite:///{tmp_dir / 'cms-test.db'}")
    folders = {
        "UPLOADS_DIR": str(tmp_dir / "uploads"),
        "EXPORTS_DIR": str(tmp_dir / "exports"),
        "IMPORTS_DIR": str(tmp_dir / "imports"),
        "CATALOG_BUILD_DIR": str(tmp_dir / "translations"),
    }
    return create_app("testing", DATABASE_URL=url, SECRET_KEY="testing-secret-key", **{**folders, **overrides})


def empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.dialect.name == "mysql":
            # Mroonga's search tables do not take part in transactions: a test's rolled-back insert stays in them
            # (SQLite's FTS5 tables roll back with the rows, through their triggers).
            present = set(sa.inspect(conn).get_table_names())
            for name in SEARCH_TABLES:
                if name in present:
                    conn.execute(sa.text(f"DELETE FROM `{name}`"))  # noqa: S608 - our own table names


def backend_of(app) -> str:
    return "mariadb" if db.engine.dialect.name == "mysql" else "sqlite"


def fresh(statement):
    """Run a query after ending the test's transaction, so rows written by requests are visible (MariaDB)."""
    db.session.rollback()
    return db.session.execute(statement)


def count_statements(browser, url: str) -> int:
    """The statements one request to `url` sends, after a warm-up request (first-request work is not counted)."""
    browser.get(url)
    with StatementCounter(db.engine) as counter:
        response = browser.get(url)
    assert response.status_code == 200, url
    return len(counter.statements)


class StatementCounter:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)


def run_together(engine, meet, calls: list) -> None:
    """Run each call (a function and its arguments) in a thread of its own, with `meet` listening before every
    statement the engine sends (where a test's barrier holds the threads), and wait for them all."""
    event.listen(engine, "before_cursor_execute", meet)
    try:
        threads = [threading.Thread(target=function, args=args) for function, *args in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(engine, "before_cursor_execute", meet)
