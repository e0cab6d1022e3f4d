"""Comment exports of any size: `deliver` decides how, `rows` reads, `writers` writes, `jobs` runs in the background."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flask import current_app
from flask_babel import lazy_gettext as _l

from cms import audit
from cms.comments import CommentSelection, count_selected
from cms.exports.jobs import (
    download_path,
    exports_dir,
    fail_stale_jobs,
    failure_reason,
    job_path,
    purge_expired,
    recent_jobs,
    record_job,
    run_again,
    run_export_job,
    start_export,
)
from cms.exports.rows import COLUMNS, export_in_memory, export_rows, header, neutralise
from cms.exports.writers import FORMATS, WRITERS, ExportError, Progress, export_to_file, write_csv, write_xlsx
from cms.extensions import db
from cms.models import ExportJob, User

__all__ = [
    "COLUMNS",
    "FORMATS",
    "WRITERS",
    "Delivery",
    "ExportError",
    "deliver",
    "download_path",
    "export_in_memory",
    "export_rows",
    "export_to_file",
    "exports_dir",
    "fail_stale_jobs",
    "failure_reason",
    "header",
    "job_path",
    "neutralise",
    "purge_expired",
    "recent_jobs",
    "record_job",
    "run_again",
    "run_export_job",
    "start_export",
    "write_csv",
    "write_xlsx",
]


@dataclass(frozen=True)
class Delivery:
    """How an export was delivered: a background `job` started, a `file` written at `path`, or the `rows`
    (header first) in memory; `total` is the number of comments."""

    kind: Literal["job", "file", "memory"]
    total: int
    job: ExportJob | None = None
    path: Path | None = None
    rows: list[list] | None = None


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
) -> Delivery:
    """Export the selection the way its size calls for, audited once whichever way.

    Given a `path` (the CLI), the file is written there whatever the size. Otherwise a selection above
    EXPORT_ASYNC_ROWS becomes a background job; above EXPORT_INLINE_ROWS it is written to a temporary file,
    which the caller sends and removes; else its rows are returned. `total` is the selection's size when the
    caller has counted it already; `progress` and `parallel` are as for `export_to_file`."""
    if fmt not in FORMATS:
        raise ExportError(_l("Unknown export format '%(format)s'.", format=fmt))
    config = current_app.config
    total = count_selected(selection) if total is None else total
    job = (
        record_job(user, selection, fmt, locale, base_url, total)
        if path is None and total > config["EXPORT_ASYNC_ROWS"]
        else None
    )
    summary = f"{total} comments as {fmt}" + (f" (background job {job.id})" if job else "")
    audit.record("export", "Comment", summary=summary)
    db.session.commit()
    if job is not None:
        start_export(job)
        return Delivery("job", total, job=job)
    if path is None and total <= config["EXPORT_INLINE_ROWS"]:
        rows = export_in_memory(selection, locale, base_url)
        return Delivery("memory", len(rows) - 1, rows=rows)
    target = path or _temporary_file(fmt)
    try:
        written = export_to_file(selection, fmt, target, locale, base_url, progress, parallel=parallel)
    except BaseException:
        if path is None:
            target.unlink(missing_ok=True)
        raise
    return Delivery("file", written, path=target)


def _temporary_file(fmt: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=f".{fmt}", delete=False)  # noqa: SIM115
    handle.close()
    return Path(handle.name)
