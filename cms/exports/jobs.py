"""Background exports: the job row, its run on RQ (when CMS_REDIS_URL is set) or a worker thread, and the
file it leaves for a day (who may download it is `cms.policies.exports`)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import select

from cms.comments import CommentSelection
from cms.exports.writers import export_to_file
from cms.extensions import db
from cms.models import ExportJob, ExportStatus, User, utcnow

log = logging.getLogger("cms.exports")

FILE_LIFETIME = timedelta(days=1)


def exports_dir() -> Path:
    path = Path(current_app.config["EXPORTS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_path(job: ExportJob) -> Path:
    return exports_dir() / f"{job.id}.{job.format}"


def record_job(
    user: User | None, selection: CommentSelection, fmt: str, locale: str, base_url: str, total: int
) -> ExportJob:
    """Add a queued job to the session (the caller audits and commits, then starts it); expired files go first."""
    purge_expired()
    job = ExportJob(
        id=uuid.uuid4().hex,
        user_id=user.id if user else None,
        format=fmt,
        status=ExportStatus.QUEUED,
        selection=json.dumps({**selection.to_json(), "base_url": base_url}),
        locale=locale,
        total=total,
    )
    db.session.add(job)
    return job


def start_export(job: ExportJob) -> None:
    """Run a committed job on RQ (when CMS_REDIS_URL is set) or on a thread of this process."""
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(current_app.config["EXPORT_QUEUE"], connection=Redis.from_url(redis_url))
        # The top-level entry point, which builds the app when the worker has none (a plain `rq worker`).
        queue.enqueue("worker.run_export_job", job.id, job_timeout=6 * 3600, result_ttl=86400)
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=_run_in_app, args=(app, job.id), daemon=True, name=f"export-{job.id}").start()


def _run_in_app(app: Flask, job_id: str) -> None:
    """The thread runner: a thread of a web process, so the job never forks (no `parallel`)."""
    with app.app_context():
        run_export_job(job_id)


def run_export_job(job_id: str, *, parallel: bool = False) -> None:
    """Write the export file, recording progress as it goes; a failure is recorded with its reason.

    `parallel` as for `export_to_file`: only the single-threaded RQ worker passes True, never the thread
    runner inside a web process."""
    db.session.rollback()  # start from a fresh transaction: the job row was committed by another process
    job = db.session.get(ExportJob, job_id)
    if job is None:
        log.warning("export job %s vanished", job_id)
        return None
    data = json.loads(job.selection)
    base_url = data.pop("base_url", "")
    job.status, job.done = ExportStatus.RUNNING, 0
    db.session.commit()

    def progress(rows: int) -> None:
        db.session.execute(sa.update(ExportJob).where(ExportJob.id == job_id).values(done=ExportJob.done + rows))
        db.session.commit()

    path = job_path(job)
    try:
        selection = CommentSelection.from_json(data)
        written = export_to_file(selection, job.format, path, job.locale, base_url, progress, parallel=parallel)
    except Exception as exc:  # the moderator must learn why, whatever it was
        log.exception("export job %s failed", job_id)
        db.session.rollback()
        path.unlink(missing_ok=True)
        job = db.session.get_one(ExportJob, job_id)
        job.status, job.error, job.finished_at = ExportStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500], utcnow()
        db.session.commit()
        return None
    job = db.session.get_one(ExportJob, job_id)
    job.status, job.done, job.total = ExportStatus.DONE, written, max(job.total, written)
    job.file_name, job.finished_at, job.expires_at = path.name, utcnow(), utcnow() + FILE_LIFETIME
    db.session.commit()
    return None


def download_path(job: ExportJob) -> Path | None:
    """The finished file, or None when it is not ready or has expired."""
    if job.status != ExportStatus.DONE or not job.file_name or (job.expires_at and job.expires_at < utcnow()):
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
