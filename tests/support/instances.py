"""Several app instances as on separate machines: one database (MariaDB when CMS_TEST_DATABASE_URL is set, else one
SQLite file) and one Redis (when CMS_TEST_REDIS_URL is set), each with its own working folders except the export
folder, which is shared storage; background exports run to completion; a second database as a read replica."""

import contextlib
import os
import threading
import uuid
from pathlib import Path

import sqlalchemy as sa

from cms.extensions import db
from tests.support.database import backend_of, create_mariadb_database, drop_everything, make_app

REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL")


@contextlib.contextmanager
def instances(app, tmp_path: Path, count: int = 2, **settings):
    """`count` apps on `app`'s database, each with its own uploads/imports folders under `tmp_path`/<name>, one
    shared EXPORTS_DIR, and one Redis (a key prefix and export queue of their own, so concurrent test runs on the
    same Redis database never meet). `settings` apply to every instance."""
    shared = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], **settings}
    if REDIS_URL:
        run = uuid.uuid4().hex[:12]
        shared.update(REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=f"test-{run}-", EXPORT_QUEUE=f"test-exports-{run}")
    made = []
    for number in range(count):
        home = tmp_path / f"instance-{chr(ord('a') + number)}"
        instance = make_app(backend_of(app), home, **shared)
        instance.config["EXPORTS_DIR"] = str(tmp_path / "shared-exports")  # NFS or an object store in production
        made.append(instance)
    try:
        yield made
    finally:
        for instance in made:
            with instance.app_context():
                if REDIS_URL:
                    from cms.extensions import cache

                    cache.clear()
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()


def finish_background_exports(instance) -> None:
    """Run the export jobs `instance` started to their end: the RQ queue (when Redis is configured) worked by a
    worker built on `instance`'s settings, or the threads `instance` started, joined."""
    if instance.config.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue, SimpleWorker

        connection = Redis.from_url(instance.config["REDIS_URL"])
        queue = Queue(instance.config["EXPORT_QUEUE"], connection=connection)
        with instance.app_context():
            SimpleWorker([queue], connection=connection).work(burst=True)
        queue.delete(delete_jobs=True)
        return
    for thread in threading.enumerate():
        if thread.name.startswith("export-"):
            thread.join(timeout=60)
            assert not thread.is_alive(), f"{thread.name} did not finish"


def replica_database(app, tmp_path: Path) -> sa.Engine:
    """An empty database with the models' tables beside `app`'s: a SQLite file in `tmp_path`, or on MariaDB the
    database `<name>_replica` on the same server."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if backend_of(app) == "sqlite":
        url = url.set(database=str(tmp_path / "replica.db"))
    else:
        url = url.set(database=f"{url.database}_replica")
        create_mariadb_database(url)
    engine = sa.create_engine(url)
    drop_everything(engine)
    db.metadata.create_all(engine)
    return engine


def replicate(source: sa.Engine, target: sa.Engine) -> None:
    """Copy every row of the models' tables, as replication would have by now."""
    with source.connect() as reading, target.begin() as writing:
        for table in db.metadata.sorted_tables:
            writing.execute(table.delete())
        for table in db.metadata.sorted_tables:
            rows = reading.execute(sa.select(table)).mappings().all()
            if rows:
                writing.execute(table.insert(), [dict(row) for row in rows])
