"""Comment exports for legal and editorial teams: the selection, read in primary-key order a chunk at a time,
written by a streaming writer (xlsxwriter in constant-memory mode, the csv module) so memory stays flat
whatever the size; large selections run as background jobs (RQ on Redis, else a worker thread)."""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import xlsxwriter
from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cms import audit
from cms.comments import CommentSelection, count_selected, selection_clauses
from cms.extensions import db
from cms.models import Comment, ExportJob, Post, User, utcnow
from cms.permissions import Perm, user_can

log = logging.getLogger("cms.exports")

FORMATS = ("xlsx", "csv")
CHUNK = 5000
FILE_LIFETIME = timedelta(days=1)
COLUMNS = (
    _l("ID"),
    _l("Post title"),
    _l("Post URL"),
    _l("Author username"),
    _l("Author email"),
    _l("Status"),
    _l("Created at (UTC)"),
    _l("Comment"),
)
# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int], None]


class ExportError(ValueError):
    """An export request refused; the message is shown to the moderator."""


def neutralise(value: str | None) -> str:
    """Make text that would start a formula inert by prefixing an apostrophe (OWASP's advice); line breaks
    inside a cell become plain line feeds, which every spreadsheet reader reads back the same."""
    if not value:
        return ""
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def header(locale: str) -> list[str]:
    with force_locale(locale):
        return [str(label) for label in COLUMNS]


def _iso(value) -> str:
    """ISO 8601 UTC to the second, from what the driver returns (SQLite: text, MariaDB: datetime)."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    return value.isoformat(timespec="seconds") + "Z"


def _comment_chunks(selection: CommentSelection, chunk: int, session) -> Iterator[list[tuple]]:
    """The selected comments' own columns, a chunk at a time in primary-key order (keyset: no OFFSET,
    no sort, the primary key or the (status, id) index drives it). Read through the driver's cursor:
    at a million rows the ORM's per-row work would cost more than writing the file."""
    connection = session.connection()
    created_at: Any = Comment.created_at
    if connection.dialect.name in ("mysql", "mariadb"):
        # pymysql turns DATETIME into datetime objects in Python, which costs more than the rest of the row.
        created_at = sa.func.date_format(Comment.created_at, "%Y-%m-%dT%H:%i:%sZ")
    statement = (
        select(Comment.id, Comment.post_id, Comment.author_id, Comment.status, created_at, Comment.body)
        .where(Comment.id > sa.bindparam("last"), *selection_clauses(selection))
        .order_by(Comment.id)
        .limit(chunk)
    )
    compiled = statement.compile(dialect=connection.dialect)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    last = 0
    try:
        while True:
            named = compiled.construct_params({"last": last})
            # SQLite's qmark style wants a list; pymysql's pyformat takes the named dict as it is.
            params = [named[name] for name in compiled.positiontup or ()] if compiled.positional else named
            cursor.execute(compiled.string, params)
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]
    finally:
        cursor.close()


class _Lookup(dict):
    """A bounded cache of post or user columns, filled a chunk at a time with one IN query."""

    LIMIT = 50_000

    def fill(self, session, ids: set, query, build) -> None:
        missing = ids - self.keys()
        if not missing:
            return
        if len(self) + len(missing) > self.LIMIT:
            self.clear()
        for row in session.execute(query.where(query.selected_columns[0].in_(missing))):
            self[row[0]] = build(*row)


def export_rows(selection: CommentSelection, base_url: str, chunk: int = CHUNK, session=None) -> Iterator[list[tuple]]:
    """Chunks of export rows in primary-key order, text cells already neutralised. Posts and authors come
    from small caches rather than a join: a million random look-ups cost more than the comments."""
    session = session or db.session
    base_url = base_url.rstrip("/")
    posts, authors = _Lookup(), _Lookup()
    post_query = select(Post.id, Post.title, Post.locale, Post.slug)
    author_query = select(User.id, User.username, User.email)
    for rows in _comment_chunks(selection, chunk, session):
        posts.fill(
            session, {r[1] for r in rows}, post_query, lambda _, t, lc, s: (neutralise(t), f"{base_url}/{lc}/posts/{s}")
        )
        authors.fill(session, {r[2] for r in rows}, author_query, lambda _, u, e: (neutralise(u), neutralise(e)))
        # The hot loop of a million-row export: no function calls for the common case.
        yield [
            (
                comment_id,
                *posts[post_id],
                *authors[author_id],
                status,
                f"{created_at[:10]}T{created_at[11:19]}Z" if type(created_at) is str else _iso(created_at),
                neutralise(body) if body.startswith(FORMULA_STARTS) or "\r" in body else body,
            )
            for comment_id, post_id, author_id, status, created_at, body in rows
        ]


def write_xlsx(path: Path, head: list[str], chunks, progress: Progress | None = None) -> int:
    """xlsxwriter in constant-memory mode: each row goes to disk as it is written."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet("Comments")
    bold = workbook.add_format({"bold": True})
    sheet.write_row(0, 0, head, bold)
    sheet.freeze_panes(1, 0)
    number, string = sheet.write_number, sheet.write_string
    row_number = 0
    for rows in chunks:
        for row in rows:
            row_number += 1
            number(row_number, 0, row[0])
            for column in range(1, 8):
                string(row_number, column, row[column])
        if progress:
            progress(len(rows))
    workbook.close()
    return row_number


def _csv_chunks(fh, chunks, progress: Progress | None = None) -> int:
    """Each chunk is formatted by the csv module into a buffer, then written in one call."""
    count = 0
    for rows in chunks:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        fh.write(buffer.getvalue())
        count += len(rows)
        if progress:
            progress(len(rows))
    return count


def write_csv(path: Path, head: list[str], chunks, progress: Progress | None = None) -> int:
    """UTF-8 with a byte-order mark, so Excel shows 中文 correctly."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")
        csv.writer(fh).writerow(head)
        return _csv_chunks(fh, chunks, progress)


WRITERS = {"xlsx": write_xlsx, "csv": write_csv}


def export_to_file(
    selection: CommentSelection, fmt: str, path: Path, locale: str, base_url: str, progress: Progress | None = None
) -> int:
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}.")
    if fmt == "csv":
        split = _split_point(selection)
        if split is not None:
            return _parallel_csv(selection, split, path, header(locale), base_url, progress)
    return WRITERS[fmt](path, header(locale), export_rows(selection, base_url), progress)


# -- csv on two processes ----------------------------------------------------------------------------
# Reading a million rows through the driver costs about as much as the csv module's writing them; a
# second process exports the upper half of the primary keys at the same time, and its part is appended.
PARALLEL_MIN_ROWS = 200_000


def _split_point(selection: CommentSelection) -> int | None:
    """The id splitting the selection in half, when two processes are worth it and safe to start.

    Forking is only done from a single-threaded process (the CLI, `flask cms worker`): a fork from a
    threaded web worker could inherit a lock held by another thread."""
    if (os.cpu_count() or 1) < 2 or threading.active_count() > 1 or selection.id_after or selection.id_through:
        return None
    total = count_selected(selection)
    if total < PARALLEL_MIN_ROWS:
        return None
    return db.session.scalar(
        select(Comment.id).where(*selection_clauses(selection)).order_by(Comment.id).offset(total // 2).limit(1)
    )


def _export_part(selection: CommentSelection, part: Path, base_url: str, url, done) -> None:
    """The child process: its own engine and connection (never the parent's), its half into `part`."""
    status = 1
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with Session(engine) as session, part.open("w", encoding="utf-8", newline="") as fh:

            def count(rows: int) -> None:
                with done.get_lock():
                    done.value += rows

            _csv_chunks(fh, export_rows(selection, base_url, session=session), count)
        status = 0
    except BaseException:
        log.exception("export part %s failed", part)
    finally:
        os._exit(status)


def _parallel_csv(selection: CommentSelection, split: int, path: Path, head, base_url, progress) -> int:
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    part = path.with_name(path.name + ".part")
    upper = replace(selection, id_after=split)
    lower = replace(selection, id_through=split)
    db.session.commit()  # no open transaction is carried into the child
    child = context.Process(target=_export_part, args=(upper, part, base_url, db.engine.url, done), daemon=True)
    child.start()
    reported = [0]

    def report(rows: int) -> None:
        if progress:
            with done.get_lock():
                theirs = done.value
            progress(rows + theirs - reported[0])
            reported[0] = theirs

    try:
        count = write_csv(path, head, export_rows(lower, base_url), report)
        child.join()
        if child.exitcode != 0:
            raise ExportError("The second export process failed; see the log.")
        with path.open("ab") as out, part.open("rb") as theirs:
            shutil.copyfileobj(theirs, out, 1024 * 1024)
        report(0)
        return count + done.value
    finally:
        if child.is_alive():
            child.terminate()
        part.unlink(missing_ok=True)


def export_in_memory(selection: CommentSelection, locale: str, base_url: str) -> list[list]:
    """Header and rows as one list, for Flask-Excel's in-memory responses (small selections only)."""
    rows: list[list] = [header(locale)]
    for chunk in export_rows(selection, base_url):
        rows.extend(list(row) for row in chunk)
    return rows


# -- background jobs ---------------------------------------------------------------------------------
def exports_dir() -> Path:
    path = Path(current_app.config["EXPORTS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_path(job: ExportJob) -> Path:
    return exports_dir() / f"{job.id}.{job.format}"


def start_export(user: User, selection: CommentSelection, fmt: str, locale: str, base_url: str) -> ExportJob:
    """Record the job, then run it on RQ (when CMS_REDIS_URL is set) or on a worker thread."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}.")
    purge_expired()
    job = ExportJob(
        id=uuid.uuid4().hex,
        user_id=user.id,
        format=fmt,
        selection=json.dumps({**selection.to_json(), "base_url": base_url}),
        locale=locale,
        total=count_selected(selection),
    )
    db.session.add(job)
    audit.record("export", "Comment", summary=f"{job.total} comments as {fmt} (background job {job.id})")
    db.session.commit()
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(current_app.config["EXPORT_QUEUE"], connection=Redis.from_url(redis_url))
        queue.enqueue(run_export_job, job.id, job_timeout=6 * 3600, result_ttl=86400)
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=_run_in_app, args=(app, job.id), daemon=True, name=f"export-{job.id}").start()
    return job


def _run_in_app(app: Flask, job_id: str) -> None:
    with app.app_context():
        run_export_job(job_id)


def run_export_job(job_id: str) -> None:
    """Write the export file, recording progress as it goes; a failure is recorded with its reason."""
    if not has_app_context():  # an RQ worker started outside `flask cms worker`
        from cms import create_app

        with create_app().app_context():
            return run_export_job(job_id)
    db.session.rollback()  # start from a fresh transaction: the job row was committed by another process
    job = db.session.get(ExportJob, job_id)
    if job is None:
        log.warning("export job %s vanished", job_id)
        return None
    data = json.loads(job.selection)
    base_url = data.pop("base_url", "")
    job.status, job.done = "running", 0
    db.session.commit()

    def progress(rows: int) -> None:
        db.session.execute(sa.update(ExportJob).where(ExportJob.id == job_id).values(done=ExportJob.done + rows))
        db.session.commit()

    path = job_path(job)
    try:
        written = export_to_file(CommentSelection.from_json(data), job.format, path, job.locale, base_url, progress)
    except Exception as exc:  # the moderator must learn why, whatever it was
        log.exception("export job %s failed", job_id)
        db.session.rollback()
        path.unlink(missing_ok=True)
        job = db.session.get_one(ExportJob, job_id)
        job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:500], utcnow()
        db.session.commit()
        return None
    job = db.session.get_one(ExportJob, job_id)
    job.status, job.done, job.total = "done", written, max(job.total, written)
    job.file_name, job.finished_at, job.expires_at = path.name, utcnow(), utcnow() + FILE_LIFETIME
    db.session.commit()
    return None


def may_download(user: User, job: ExportJob) -> bool:
    return job.user_id == user.id or user_can(user, Perm.ADMIN)


def download_path(job: ExportJob) -> Path | None:
    """The finished file, or None when it is not ready or has expired."""
    if job.status != "done" or not job.file_name or (job.expires_at and job.expires_at < utcnow()):
        return None
    path = exports_dir() / job.file_name
    return path if path.exists() else None


def purge_expired() -> int:
    """Delete export files (and their jobs) older than a day."""
    expired = list(db.session.scalars(select(ExportJob).where(ExportJob.expires_at < utcnow())))
    for job in expired:
        if job.file_name:
            (exports_dir() / job.file_name).unlink(missing_ok=True)
        db.session.delete(job)
    db.session.commit()
    return len(expired)
