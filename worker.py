"""The RQ entry point for background jobs: runs a job inside an app, building one when RQ has none."""

from flask import has_app_context

from cms import create_app, outbox
from cms.exports import jobs


def run_export_job(job_id: str) -> None:
    """`flask cms worker` (SimpleWorker) runs jobs inside its own app context; a plain `rq worker` has none, so
    the job builds the app from the environment, as `wsgi.py` does. Either way the job may fork (`parallel`): the
    process's other threads (the job's heartbeat, the worker's mail watch) hold `cms.leases.FORK_GUARD` while
    they use the database, and a fork waits for it."""
    if has_app_context():
        jobs.run_export_job(job_id, parallel=True)
        return
    with create_app().app_context():
        jobs.run_export_job(job_id, parallel=True)


def send_mail() -> None:
    """The outbox's job (`cms.outbox.run_rq_job`): send what is due, then ask for a wake-up at the next retry."""
    if has_app_context():
        outbox.run_rq_job()
        return
    with create_app().app_context():
        outbox.run_rq_job()
