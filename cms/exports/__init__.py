"""Comment exports of any size: `deliver` decides how, `rows` reads, `writers` writes, `jobs` runs in the background."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flask import current_app
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError

from cms import audit, outages
from cms.comments import CommentSelection, selection_size
from cms.exports.jobs import (
    download_path,
    exports_dir,
    fail_stale_jobs,
    failure_reason,
    job_path,
    purge_expired,
    recent_jobs,
    record_job,
    remove_orphaned_files,
    run_again,
    run_export_job,
    start_export,
    sweep_temporary_files,
)
from cms.exports.rows import COLUMNS, ID_ORDER, RowOrder, export_rows, header, neutralise, order_for
from cms.exports.writers import (
    FORMATS,
    WRITERS,
    ExportError,
    Progress,
    disk_error,
    export_to_bytes,
    export_to_file,
    write_csv,
    write_xlsx,
)
from cms.extensions import db
from cms.models import ExportJob, ExportStatus, User, utcnow

log = logging.getLogger("cms.exports")

__all__ = [
    "COLUMNS",
    "FORMATS",
    "ID_ORDER",
    "WRITERS",
    "Delivery",
    "ExportError",
    "RowOrder",
    "deliver",
    "download_path",
    "export_rows",
    "export_to_bytes",
    "export_to_file",
    "exports_dir",
    "fail_stale_jobs",
    "failure_reason",
    "header",
    "job_path",
    "neutralise",
    "order_for",
    "purge_expired",
    "remove_orphaned_files",
    "recent_jobs",
    "record_job",
    "run_again",
    "run_export_job",
    "start_export",
    "sweep_temporary_files",
    "write_csv",
    "write_xlsx",
]


@dataclass(frozen=True)
class Delivery:
    """How an export was delivered: a background `job` started, a `file` written at `path`, or the file's
    `data` in memory; `total` is the number of comments."""

    kind: Literal["job", "file", "memory"]
    total: int
    job: ExportJob | None = None
    path: Path | None = None
    data: bytes | None = None


def deliver(
    user: User | None,
    selection: CommentSelection,
    fmt: str,
    *,
    locale: str,
    base_url: str,
    path: Path | None = None,
    total: int | None = None,
    progress: Progress | None = None,
    parallel: bool = False,
    order: RowOrder | None = None,
) -> Delivery:
    """Export the selection the way its size calls for, audited once whichever way, and only once delivered (a
    job, once started).

    Given a `path` (the CLI), the file is written there whatever the size. Otherwise a selection above
    EXPORT_ASYNC_ROWS becomes a background job; above EXPORT_INLINE_ROWS it is written to a temporary file in the
    exports folder, which the caller sends and removes; else its rows are returned. `total` is the selection's size
    when the caller has counted it already; `progress`, `parallel` and `order` (the comment list's) are as for
    `export_to_file`; a job keeps the order and the locale for when it runs. A full or
    unwritable exports folder, or a job queue that does not answer, is an ExportError, with no file left."""
    if fmt not in FORMATS:
        raise ExportError(_l("Unknown export format '%(format)s'.", format=fmt))
    config = current_app.config
    total = selection_size(selection) if total is None else total
    if path is None and total > config["EXPORT_ASYNC_ROWS"]:
        _temporary_file(fmt).unlink()  # the job's file goes there: a folder that refuses is said now, not later
        job = record_job(user, selection, fmt, locale, base_url, total, order)
        _record(total, fmt, job)
        _start(job)
        return Delivery("job", total, job=job)
    if path is None and total <= config["EXPORT_INLINE_ROWS"]:
        data, written = export_to_bytes(selection, fmt, locale, base_url, order=order)
        _record(total, fmt)
        return Delivery("memory", written, data=data)
    target = path or _temporary_file(fmt)
    try:
        written = export_to_file(selection, fmt, target, locale, base_url, progress, parallel=parallel, order=order)
    except BaseException:
        if path is None:
            target.unlink(missing_ok=True)
        raise
    _record(total, fmt)
    return Delivery("file", written, path=target)


def _record(total: int, fmt: str, job: ExportJob | None = None) -> None:
    """The audit entry, committed (with the job row, when there is one)."""
    summary = f"{total} comments as {fmt}" + (f" (background job {job.id})" if job else "")
    audit.record("export", "Comment", summary=summary)
    db.session.commit()


def _start(job: ExportJob) -> None:
    """Start a committed job; when the job queue (Redis) does not answer, the job is marked failed with the
    reason and the moderator is told, instead of a job left queued for good."""
    try:
        start_export(job)
    except RedisError as exc:
        log.warning("export job %s could not be queued: %s", job.id, exc)
        db.session.rollback()
        job.status, job.finished_at = ExportStatus.FAILED, utcnow()
        job.error = f"The job queue did not answer ({type(exc).__name__}: {exc})"[:500]
        db.session.commit()
        raise ExportError(
            _l("Background exports cannot start just now: the job queue does not answer. Try again in a few minutes.")
        ) from exc


def _temporary_file(fmt: str) -> Path:
    """A new empty file in the exports folder, where exports are written (one folder for the operator to size)."""
    try:
        folder = exports_dir()
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".export-", suffix=f".{fmt}", delete=False)  # noqa: SIM115
        handle.close()
    except OSError as exc:
        problem = outages.disk_problem(exc)
        if problem is None:
            raise
        log.exception("the exports folder %s refused a file", current_app.config["EXPORTS_DIR"])
        raise disk_error(problem) from exc
    return Path(handle.name)
