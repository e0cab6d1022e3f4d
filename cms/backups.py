"""Backups of what a site holds beyond its code: the database (the translators' catalog edits live there too,
`cms.catalog_store`), the media uploads and the committed catalogs as this machine has them; and the restore that
puts all three back. `flask cms backup DEST` and `flask cms restore SRC` call these; docs/deploy.md says when.

A backup is one folder: `database.sql` (MariaDB, from mariadb-dump) or `database.sqlite3` (SQLite, through its
backup API), `uploads/`, `translations/` and `manifest.json` (what it holds, how many posts, images and saved
translations, and the dump's checksum). It is written as `<DEST>.partial` and renamed to DEST once whole, so a
folder named DEST is never half a backup. The database is dumped before the uploads are copied: an image is written
before its row (`cms.media.save_upload`), so every image the dump names is in the copy."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_migrate import upgrade

from cms import catalog_store, i18n, page_cache
from cms.domain import DomainError
from cms.extensions import cache, db
from cms.models import CatalogEntry, Media, Post, utcnow

FORMAT = 1
MANIFEST = "manifest.json"
SQL_DUMP = "database.sql"
SQLITE_COPY = "database.sqlite3"
UPLOADS = "uploads"
CATALOGS = "translations"
PARTIAL = ".partial"
DUMP_PROGRAMS = ("mariadb-dump", "mysqldump")
CLIENT_PROGRAMS = ("mariadb", "mysql")


class BackupError(DomainError):
    """A backup or a restore refused or failed; the message says why."""


@dataclass
class Contents:
    """What a backup holds (its manifest), and what a restored site must serve again."""

    database: str  # "mysql" or "sqlite"
    posts: int
    media: int
    catalog_entries: int
    upload_files: int
    catalog_files: int
    revision: str | None = None  # the schema's Alembic revision
    created_at: str = ""
    checksum: str = ""  # sha256 of the database file
    format: int = FORMAT


# -- backing up ------------------------------------------------------------------------------------
def backup(dest: Path) -> Contents:
    """Write a backup of this site into the new folder `dest`; what it holds."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(_l("%(path)s already exists: give a new folder for the backup.", path=str(dest)))
    work = dest.with_name(dest.name + PARTIAL)
    i18n.remove(work)  # what an earlier backup that died left
    work.mkdir(parents=True)
    try:
        database_file = _dump_database(work)
        uploads = _copy_tree(Path(current_app.config["UPLOADS_DIR"]), work / UPLOADS)
        catalog_files = _copy_tree(i18n.source_dir(), work / CATALOGS, skip=_not_a_catalog)
        contents = Contents(
            database=db.engine.dialect.name,
            **_counts(),
            upload_files=uploads,
            catalog_files=catalog_files,
            revision=_schema_revision(),
            created_at=utcnow().isoformat(timespec="seconds") + "Z",
            checksum=_sha256(database_file),
        )
        (work / MANIFEST).write_text(json.dumps(asdict(contents), indent=2) + "\n")
        if dest.exists():
            dest.rmdir()
        os.rename(work, dest)
    except BaseException:
        i18n.remove(work)
        raise
    return contents


def _counts() -> dict[str, int]:
    def count(model) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0

    return {"posts": count(Post), "media": count(Media), "catalog_entries": count(CatalogEntry)}


def _schema_revision() -> str | None:
    if "alembic_version" not in sa.inspect(db.engine).get_table_names():
        return None
    return db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))


def _dump_database(folder: Path) -> Path:
    db.session.commit()  # the dump reads what is committed; this session holds nothing open meanwhile
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        target = folder / SQLITE_COPY
        with contextlib.closing(sqlite3.connect(_sqlite_path(url))) as live:
            with contextlib.closing(sqlite3.connect(target)) as copy:
                live.backup(copy)  # a consistent copy, whatever other processes write meanwhile
        return target
    if url.get_backend_name() != "mysql":
        raise BackupError(_l("Backups know SQLite and MariaDB only."))
    target = folder / SQL_DUMP
    with _client_options(url) as options, target.open("wb") as out:
        # One transaction for the whole dump (InnoDB): a consistent snapshot without locking the site.
        arguments = ["--single-transaction", "--quick", "--hex-blob", "--routines", "--triggers", "--no-tablespaces"]
        _run(DUMP_PROGRAMS, [options, *arguments, str(url.database)], stdout=out)
    return target


def _not_a_catalog(path: Path) -> bool:
    """Compiled catalogs are made again from the .po; what unfinished writes left is no catalog."""
    return path.suffix == ".mo" or path.name.endswith(i18n.TEMPORARY)


# -- restoring -------------------------------------------------------------------------------------
def read_manifest(source: Path) -> Contents:
    try:
        data = json.loads((Path(source) / MANIFEST).read_text())
        contents = Contents(**data)
    except (OSError, ValueError, TypeError):
        raise BackupError(_l("%(path)s is not a backup made by flask cms backup.", path=str(source))) from None
    if contents.format != FORMAT:
        raise BackupError(
            _l("This backup's format (%(format)s) is not one this version reads.", format=contents.format)
        )
    return contents


def restore(source: Path, catalogs: bool = True) -> Contents:
    """Replace this site's database with the backup's, put its uploads back and (with `catalogs`) its committed
    catalogs, then rebuild the served catalogs and start every page cache afresh; what the site now holds.
    Every app instance must be stopped meanwhile (docs/deploy.md)."""
    source = Path(source)
    expected = read_manifest(source)
    if expected.database != db.engine.dialect.name:
        raise BackupError(
            _l(
                "This backup is of a %(theirs)s database; this site's is %(ours)s.",
                theirs=expected.database,
                ours=db.engine.dialect.name,
            )
        )
    database_file = source / (SQLITE_COPY if expected.database == "sqlite" else SQL_DUMP)
    if not database_file.is_file() or _sha256(database_file) != expected.checksum:
        raise BackupError(_l("The backup's database file is missing or damaged: nothing was restored."))
    # Refused before anything is touched: a schema this code does not know, catalogs the checks refuse (they were
    # written after the database, then the compile failed half-way through the restore).
    migrations = _migrations()
    if expected.revision is not None and not _known(migrations, expected.revision):
        raise BackupError(
            _l("This backup's database is of a newer release (schema %(revision)s): restore it with that release.",
               revision=expected.revision)
        )  # fmt: skip
    if catalogs:
        problems = [
            p for path in (source / CATALOGS).rglob(f"{i18n.TEMPLATE.stem}.po") for p in i18n.catalog_problems(path)
        ]
        if problems:
            raise BackupError(
                _l("The backup's catalogs fail the translation checks (%(problem)s): restore with --skip-catalogs, "
                   "or fix them first. Nothing was restored.", problem=problems[0])
            )  # fmt: skip
    _load_database(database_file)
    if expected.revision != migrations.get_current_head():  # a backup of an older release: its schema moves on
        upgrade(directory=MIGRATIONS_DIR)
    _copy_tree(source / UPLOADS, Path(current_app.config["UPLOADS_DIR"]))
    if catalogs:
        _restore_catalogs(source / CATALOGS, i18n.source_dir())
    with db.engine.begin() as connection:
        page_cache.bump(connection)  # no page cached before the restore is served after it
    cache.clear()
    catalog_store.refresh(current_app._get_current_object(), force=True)  # type: ignore[attr-defined]
    restored = Contents(**{**asdict(expected), **_counts()})
    if (restored.posts, restored.media, restored.catalog_entries) != (
        expected.posts,
        expected.media,
        expected.catalog_entries,
    ):
        raise BackupError(_l("The restored database does not hold what the backup's manifest says."))
    return restored


MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")  # `flask cms init` upgrades with it too


def _migrations() -> ScriptDirectory:
    return ScriptDirectory(MIGRATIONS_DIR)


def _known(migrations: ScriptDirectory, revision: str) -> bool:
    try:
        return migrations.get_revision(revision) is not None
    except CommandError:  # not one of this code's migrations
        return False


def _load_database(database_file: Path) -> None:
    db.session.remove()
    url = db.engine.url
    db.engine.dispose()  # no pooled connection of this process keeps the old tables open
    if url.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(database_file)) as backup_copy:
            with contextlib.closing(sqlite3.connect(_sqlite_path(url))) as live:
                backup_copy.backup(live)  # replaces every page of the live file, in one transaction
        return
    _drop_every_table()
    with _client_options(url) as options, database_file.open("rb") as dump:
        _run(CLIENT_PROGRAMS, [options, str(url.database)], stdin=dump)


def _drop_every_table() -> None:
    """A dump re-creates only the tables it holds: tables made since (a newer migration) go first."""
    with db.engine.begin() as connection:
        connection.execute(sa.text("SET FOREIGN_KEY_CHECKS=0"))
        quote = connection.dialect.identifier_preparer.quote
        for name in sa.inspect(connection).get_table_names():
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {quote(name)}"))
        connection.execute(sa.text("SET FOREIGN_KEY_CHECKS=1"))


def _restore_catalogs(saved: Path, committed: Path) -> None:
    """The committed catalogs as they were, each file written whole (`i18n.write_file`), under the folder's lock."""
    committed.mkdir(parents=True, exist_ok=True)
    with i18n.folder_lock(committed):
        for path in sorted(p for p in saved.rglob("*") if p.is_file()):
            target = committed / path.relative_to(saved)
            data = path.read_bytes()
            if not target.is_file() or target.read_bytes() != data:
                i18n.write_file(target, data)
    i18n.compile_catalogs(committed)


# -- helpers ---------------------------------------------------------------------------------------
def _sqlite_path(url: sa.URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError(_l("An in-memory SQLite database cannot be backed up."))
    return url.database


def _copy_tree(source: Path, target: Path, skip=None) -> int:
    """Copy the files under `source` into `target` (kept: files already there that `source` lacks); how many."""
    copied = 0
    if not source.is_dir():
        return copied
    for path in sorted(source.rglob("*")):
        if not path.is_file() or (skip is not None and skip(path)):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied += 1
    return copied


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _client_options(url: sa.URL) -> Iterator[str]:
    """The server, the account and its password for mariadb-dump and mariadb, in a file only this user reads (a
    password on the command line would show in `ps`)."""
    lines = ["[client]", f"host={url.host or '127.0.0.1'}", f"port={url.port or 3306}", f"user={url.username or ''}"]
    if url.password:
        lines.append(f"password={url.password}")
    lines.append("default-character-set=utf8mb4")
    with tempfile.NamedTemporaryFile("w", prefix="cms-backup-", suffix=".cnf") as options:
        os.chmod(options.name, 0o600)
        options.write("\n".join(lines) + "\n")
        options.flush()
        yield f"--defaults-extra-file={options.name}"


def _run(programs: tuple[str, ...], arguments: list[str], **streams) -> None:
    """Run the first of `programs` found (MariaDB's dump or client, by its fixed name) with `arguments`."""
    program = next((found for name in programs if (found := shutil.which(name))), None)
    if program is None:
        raise BackupError(_l("Install the MariaDB client (%(programs)s).", programs=" or ".join(programs)))
    done = subprocess.run([program, *arguments], stderr=subprocess.PIPE, check=False, **streams)  # noqa: S603  # nosec B603
    if done.returncode != 0:
        raise BackupError(
            _l(
                "%(program)s failed: %(error)s",
                program=Path(program).name,
                error=done.stderr.decode(errors="replace").strip(),
            )
        )
