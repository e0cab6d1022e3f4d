"""Background exports: the job row, its run on RQ (when CMS_REDIS_URL is set) or a worker thread under a lease
(`cms.leases`: a job whose worker died is failed, and can be run again), and the file it leaves for a day (who may
download it is `cms.policies.exports`)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from cms import audit, leases, outages
from cms.comments import CommentSelection, selection_size
from cms.exports.rows import RowOrder
from cms.exports.writers import FORMATS, ExportError, disk_error, export_to_file
from cms.extensions import db
from cms.models import ExportJob, ExportStatus, User, utcnow

log = logging.getLogger("cms.exports")

FILE_LIFETIME = timedelta(days=1)  # a finished file, and a failed job's row, are kept this long
EXPORTS = leases.LeasedWork(
    ExportJob,
    queued=ExportStatus.QUEUED,
    running=ExportStatus.RUNNING,
    failed=ExportStatus.FAILED,
    fail_values=lambda now: {"expires_at": now + FILE_LIFETIME},
)


def exports_dir() -> Path:
    path = Path(current_app.config["EXPORTS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_path(job: ExportJob) -> Path:
    return exports_dir() / f"{job.id}.{job.format}"


def record_job(
    user: User | None,
    selection: CommentSelection,
    fmt: str,
    locale: str,
    base_url: str,
    total: int,
    order: RowOrder | None = None,
) -> ExportJob:
    """Add a queued job to the session (the caller audits and commits, then starts it); expired files go first.
    The job keeps what it is written in: the moderator's locale, and the list's order beside the selection."""
    purge_expired()
    kept = {"base_url": base_url, "order": order.to_json() if order else None}
    job = ExportJob(
        id=uuid.uuid4().hex,
        user_id=user.id if user else None,
        format=fmt,
        status=ExportStatus.QUEUED,
        selection=json.dumps({**selection.to_json(), **kept}),
        locale=locale,
        total=total,
    )
    db.session.add(job)
    return job


def start_export(job: ExportJob) -> None:
    """Run a committed job on RQ (when CMS_REDIS_URL is set) or on a thread of this process."""
    config = current_app.config
    if config.get("REDIS_URL"):
        from rq import Queue

        queue = Queue(config["EXPORT_QUEUE"], connection=outages.redis_client(config))
        # The top-level entry point, which builds the app when the worker has none (a plain `rq worker`). RQ's
        # timeout is a minute past ours: the lease fails a job at EXPORT_JOB_TIMEOUT, RQ stops one stuck in a step.
        queue.enqueue("worker.run_export_job", job.id, job_timeout=config["EXPORT_JOB_TIMEOUT"] + 60, result_ttl=86400)
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=_run_in_app, args=(app, job.id), daemon=True, name=f"export-{job.id}").start()


def _run_in_app(app: Flask, job_id: str) -> None:
    """The thread runner: a thread of a web process, so the job never forks (no `parallel`)."""
    with app.app_context():
        run_export_job(job_id)


def run_export_job(job_id: str, *, parallel: bool = False) -> None:
    """Claim the job, write the export file with a heartbeat and progress as it goes, and record the outcome; a
    failure is recorded with its reason. A job that is not waiting (taken, failed or removed) is left alone.

    `parallel` as for `export_to_file`: only the RQ worker passes True (its one other thread is the job's
    heartbeat, whose beats a fork waits for), never the thread runner inside a web process."""
    db.session.rollback()  # start from a fresh transaction: the job row was committed by another process
    token = leases.claim(EXPORTS, job_id)
    if token is None:
        log.warning("export job %s is not waiting for a worker (taken, failed or removed): skipped", job_id)
        return None
    job = db.session.get_one(ExportJob, job_id)
    total, path = job.total, None

    def progress(rows: int) -> None:
        leases.renew(EXPORTS, job_id, token, done=ExportJob.done + rows)

    # Everything that may fail once the job is claimed is inside the try: reading its selection, finding its
    # folder, writing. A failure anywhere fails the job with its reason instead of leaving it running.
    try:
        with leases.Heartbeat(EXPORTS, job_id, token, leases.beat_interval(current_app.config["JOB_STALE_AFTER"])):
            data = json.loads(job.selection)
            base_url = data.pop("base_url", "")
            order = RowOrder.from_json(data.pop("order", None))
            selection = CommentSelection.from_json(data)
            path = _file_for(job)
            written = export_to_file(
                selection, job.format, path, job.locale, base_url, progress, parallel=parallel, order=order
            )
    except leases.LeaseLost:
        db.session.rollback()
        _remove(path)
        log.warning("export job %s was failed while it ran (its heartbeat came too late): its file is dropped", job_id)
        return None
    except Exception as exc:  # the moderator must learn why, whatever it was
        log.exception("export job %s failed", job_id)
        db.session.rollback()
        _remove(path)
        leases.fail(EXPORTS, job_id, token, f"{type(exc).__name__}: {exc}"[:500])
        return None
    except BaseException:  # this process is stopping (a worker's cold shutdown): say so now, not a minute later
        db.session.rollback()
        _remove(path)
        leases.fail(EXPORTS, job_id, token, leases.STOPPED)
        raise
    now = utcnow()
    done = dict(done=written, total=max(total, written), file_name=path.name, finished_at=now)
    if not leases.finish(EXPORTS, job_id, token, ExportStatus.DONE, **done, expires_at=now + FILE_LIFETIME):
        path.unlink(missing_ok=True)
    return None


def _file_for(job: ExportJob) -> Path:
    """Where the job writes its file; a folder the disk refuses is said as an export's disk error is."""
    try:
        return job_path(job)
    except OSError as exc:
        problem = outages.disk_problem(exc)
        if problem is None:
            raise
        raise disk_error(problem) from exc


def _remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def fail_stale_jobs() -> list[str]:
    """Fail the jobs whose worker is gone, that no worker started, or that ran too long (`cms.leases.expire`, with
    JOB_STALE_AFTER, JOB_START_WITHIN and EXPORT_JOB_TIMEOUT), and remove what they had written; their ids."""
    config = current_app.config
    failed = leases.expire(
        EXPORTS,
        stale_after=config["JOB_STALE_AFTER"],
        start_within=config["JOB_START_WITHIN"],
        run_limit=config["EXPORT_JOB_TIMEOUT"],
    )
    for job_id in failed:
        for fmt in FORMATS:
            (exports_dir() / f"{job_id}.{fmt}").unlink(missing_ok=True)
            (exports_dir() / f"{job_id}.{fmt}.part").unlink(missing_ok=True)
    return failed


def recent_jobs(limit: int, where: sa.ColumnElement[bool] | None = None) -> list[ExportJob]:
    """The newest jobs first, those matching `where` (e.g. `policies.exports.visible_clause`)."""
    query = select(ExportJob).order_by(ExportJob.created_at.desc(), ExportJob.id).limit(limit)
    return list(db.session.scalars(query if where is None else query.where(where)))


def failure_reason(job: ExportJob) -> str | None:
    """Why the job failed, in the reader's language."""
    return leases.reason_text(job.error)


def run_again(user: User, job: ExportJob) -> tuple[ExportJob, bool]:
    """A new job for a failed one's selection, format and language, owned by the failed job's owner (by `user`,
    who pressed, when it has none), audited as `user`'s export and started; whether it was made now. A job run
    again before gives the job made then (a second press makes no second export)."""
    if job.status != ExportStatus.FAILED:
        raise ExportError(_l("Only a failed export can be run again."))
    if job.retried_as and (earlier := db.session.get(ExportJob, job.retried_as)) is not None:
        return earlier, False
    data = json.loads(job.selection)
    base_url = data.pop("base_url", "")
    try:
        order = RowOrder.from_json(data.pop("order", None))
        selection = CommentSelection.from_json(data)
    except (TypeError, ValueError, KeyError):
        raise ExportError(_l("This export's selection can no longer be read; export from the comment list.")) from None
    total = selection_size(selection)
    # The new job is the failed one's owner's: an administrator pressing for a moderator left the moderator with
    # a link to a job they may not open, and "run again" leading to it.
    owner = db.session.get(User, job.user_id) if job.user_id is not None else None
    rerun = record_job(owner or user, selection, job.format, job.locale, base_url, total, order)
    db.session.flush()
    claimed = db.session.execute(
        sa.update(ExportJob).where(ExportJob.id == job.id, ExportJob.retried_as.is_(None)).values(retried_as=rerun.id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another press got there first
        db.session.rollback()
        current = db.session.get(ExportJob, job.id)
        earlier = db.session.get(ExportJob, current.retried_as) if current and current.retried_as else None
        if earlier is None:
            raise ExportError(_l("This export has expired; export from the comment list."))
        return earlier, False
    audit.record(
        "export",
        "Comment",
        summary=f"{total} comments as {job.format} (background job {rerun.id}, run again of {job.id})",
    )
    db.session.commit()
    start_export(rerun)
    return rerun, True


def download_path(job: ExportJob) -> Path | None:
    """The finished file, or None when it is not ready or has expired."""
    if job.status != ExportStatus.DONE or not job.file_name or (job.expires_at and job.expires_at < utcnow()):
        return None
    path = exports_dir() / job.file_name
    return path if path.exists() else None


def purge_expired() -> int:
    """Delete export files (and their jobs) older than a day, what exports that never finished left behind
    (`sweep_temporary_files`), and the files whose job is gone (`remove_orphaned_files`)."""
    sweep_temporary_files()
    remove_orphaned_files()
    expired = list(db.session.scalars(select(ExportJob).where(ExportJob.expires_at < utcnow())))
    for job in expired:
        if job.file_name:
            (exports_dir() / job.file_name).unlink(missing_ok=True)
        db.session.delete(job)
    db.session.commit()
    return len(expired)


# A finished job's file: its id (uuid4().hex) and format. Nothing else in the folder is taken for one.
JOB_FILE = re.compile(r"([0-9a-f]{32})\.(?:csv|xlsx)")


def remove_orphaned_files() -> list[Path]:
    """Remove the finished files (`<job id>.<format>`) whose job is gone: deleting an account deletes its jobs
    (ON DELETE CASCADE), and their files, every exported comment with its author's address, stayed for good."""
    try:
        files = {found[1]: path for path in exports_dir().iterdir() if (found := JOB_FILE.fullmatch(path.name))}
    except OSError:
        log.warning("Could not read the exports folder %s", current_app.config["EXPORTS_DIR"], exc_info=True)
        return []
    known: set[str] = set()
    ids = sorted(files)
    for start in range(0, len(ids), 500):
        known.update(db.session.scalars(select(ExportJob.id).where(ExportJob.id.in_(ids[start : start + 500]))))
    removed = [path for job_id, path in files.items() if job_id not in known]
    for path in removed:
        path.unlink(missing_ok=True)
        log.info("Removed %s: its export job is gone", path)
    return removed


def sweep_temporary_files() -> list[Path]:
    """Remove what exports whose process died left in the exports folder: `.export-*` (an export written there to
    be sent at once) and `*.part` (the second half of a two-process csv), once their last write is at least
    EXPORT_TEMPORARY_LIFETIME seconds old. Younger ones may be being written or sent right now, so they stay."""
    cutoff = time.time() - current_app.config["EXPORT_TEMPORARY_LIFETIME"]
    removed: list[Path] = []
    try:
        left = [p for p in exports_dir().iterdir() if p.name.startswith(".export-") or p.name.endswith(".part")]
        for path in left:
            with contextlib.suppress(FileNotFoundError):  # another process swept it first
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(path)
                    log.warning("Removed %s, left by an export that never finished", path)
    except OSError:  # a folder that refuses: the export that needs it says so to the moderator
        log.warning("Could not sweep the exports folder %s", current_app.config["EXPORTS_DIR"], exc_info=True)
    return removed
