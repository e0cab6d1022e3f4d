"""The background export page's script in a real browser: a job whose worker died turns to failed while the
moderator watches, with the reason, and its Run again button exports the same comments to a download."""

import json
import uuid

import pytest

from cms.extensions import db
from cms.models import ExportJob, utcnow
from tests.factories import make_comment, make_post
from tests.support.browser import sign_in

pytestmark = pytest.mark.browser


def test_a_job_whose_worker_died_turns_to_failed_on_its_page_and_runs_again(page, users, app, monkeypatch):
    post = make_post(users["author"], "published")
    for n in range(12):
        make_comment(users["reader"], post, body=f"export {n}", status="pending")
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER", 1)
    now = utcnow()
    job = ExportJob(id=uuid.uuid4().hex, user_id=users["moderator"].id, format="csv", status="running", total=12,
                    done=5, started_at=now, heartbeat_at=now, lease_token=uuid.uuid4().hex,
                    selection=json.dumps({"status": "pending", "base_url": "http://localhost/"}))  # fmt: skip
    db.session.add(job)
    db.session.commit()  # its worker beats no more: the page's poll finds it a second later
    sign_in(page, "moderator@example.com")
    page.goto(f"/admin/comment/exports/{job.id}/")
    page.wait_for_selector("#export-run-again:not([hidden])")
    assert page.inner_text("#export-state") == (
        "The export failed: the worker running it stopped (a restart, a deploy or running out of memory)"
    )
    page.click("#export-run-again button")
    page.wait_for_selector("#export-download:not([hidden])")
    assert page.url.rstrip("/").rsplit("/", 1)[-1] != job.id
    assert page.inner_text("#export-count") == "12 of 12 rows"
    assert page.locator("#export-run-again").is_hidden()
    with page.expect_download() as download:
        page.click("#export-download")
    assert download.value.suggested_filename.endswith(".csv")
