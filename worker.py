"""The RQ entry point for background jobs: runs a job inside an app, building one when RQ has none."""

from flask import current_app, has_app_context

from cms import catalog_store, create_app
from cms.exports import jobs


def run_export_job(job_id: str) -> None:
    """`flask cms worker` (SimpleWorker, one thread) runs jobs inside its own app context; a plain
    `rq worker` has none, so the job builds the app from the environment, as `wsgi.py` does."""
    if has_app_context():
        _run(job_id)
        return
    with create_app().app_context():
        _run(job_id)


def _run(job_id: str) -> None:
    # A long-lived worker serves no requests: pick up the translators' latest strings (the export's header
    # row is in the moderator's language) as a request would.
    catalog_store.reload_if_changed(current_app._get_current_object())  # type: ignore[attr-defined]
    jobs.run_export_job(job_id, parallel=True)
