"""Comment exports: the current selection, exact rows in both formats, formula injection, any size,
background jobs with progress on a thread and on RQ/Redis, and who may download."""

import csv
import html
import io
import json
import os
import re
import time
import uuid
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from cms import comment_counts
from cms.extensions import db
from cms.models import AuditLog, Comment, ExportJob, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import ENGLISH_HEADER, expected_rows, in_xlsx, newest_first, read_csv, read_xlsx

DANGEROUS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\tTabbed", "\rReturn", '=HYPERLINK("http://evil.example")']


@pytest.fixture
def comments(users):
    post = make_post(users["author"], "published", title="中文标题 story")
    other = make_post(users["author"], "published", title="Other")
    rows = [make_comment(users["reader"], post, body=f"pending {n} 中文", status="pending") for n in range(5)]
    rows += [make_comment(users["reader"], other, body=f"approved {n}", status="approved") for n in range(3)]
    return post, rows


@pytest.fixture(params=["inline", "streamed"])
def export_path(request, app):
    """Small selections go through Flask-Excel in memory; larger ones through the streaming writers."""
    if request.param == "streamed":
        app.config["EXPORT_INLINE_ROWS"] = 0
    yield request.param
    app.config["EXPORT_INLINE_ROWS"] = 2000


def test_xlsx_export_of_the_filtered_selection_round_trips(login_as, comments, export_path):
    response = login_as("moderator").get("/admin/comment/export/xlsx/?flt0_status_equals=pending")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_xlsx(response.get_data())
    assert rows[0] == ENGLISH_HEADER
    assert rows[1:] == in_xlsx(newest_first(expected_rows("pending", labelled=True)))  # the list's default order


def test_the_bare_queues_export_and_select_all_are_the_pending_comments_it_shows(login_as, comments):
    """A bare /admin/comment/ lists the pending comments; its export links and its action form (the page's query
    string) carry no filter. Its export held every comment, and "approve all matching" approved the approved ones
    and hidden ones too; the "All" tab (?status=all) is every comment."""
    post, rows = comments
    hidden = make_comment(rows[0].author, post, body="hidden one", status="hidden")
    browser = login_as("moderator")
    page = browser.get("/admin/comment/").get_data(as_text=True)
    assert "/admin/comment/export/csv/" in page and "pending 0" in page and "approved 0" not in page
    exported = read_csv(browser.get("/admin/comment/export/csv/").get_data())
    assert sorted(row[ENGLISH_HEADER.index("Status")] for row in exported[1:]) == ["Pending"] * 5
    assert len(read_csv(browser.get("/admin/comment/export/csv/?status=all").get_data())) == 1 + 9
    response = browser.post(
        "/admin/comment/action/",
        data={"action": "approve", "rowid": str(rows[0].id), "select_all": "1", "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    assert "5 comments changed." in response.get_data(as_text=True)
    assert fresh(sa.select(Comment.status).where(Comment.id == hidden.id)).scalar() == "hidden"


def test_csv_export_of_the_filtered_selection_round_trips(login_as, comments, export_path):
    response = login_as("moderator").get("/admin/comment/export/csv/?flt0_status_equals=approved&search=approved")
    rows = read_csv(response.get_data())
    assert rows[0] == ENGLISH_HEADER
    # A search: the rows are in id order (see cms.exports.rows.order_for).
    assert rows[1:] == [[str(cell) for cell in row] for row in expected_rows("approved", labelled=True)]


def test_export_covers_every_matching_row_not_just_the_page(login_as, users, comments, app):
    post = comments[0]
    db.session.execute(
        sa.insert(Comment),
        [{"body": f"many {n}", "body_html": "", "status": "pending", "author_id": users["reader"].id, "post_id": post.id}
         for n in range(120)],
    )  # fmt: skip
    db.session.commit()
    comment_counts.recount()  # bulk inserts bypass the counting hooks, as the seed's do
    app.config["EXPORT_INLINE_ROWS"] = 0
    try:
        rows = read_csv(login_as("moderator").get("/admin/comment/export/csv/?page_size=20&page=1").get_data())
    finally:
        app.config["EXPORT_INLINE_ROWS"] = 2000
    assert len(rows) - 1 == 128


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_formula_injection_is_neutralised(login_as, users, fmt, export_path):
    post = make_post(users["author"], "published", title="=cmd|' /C calc'!A0")
    for text in DANGEROUS:
        make_comment(users["reader"], post, body=text, status="pending")
    response = login_as("moderator").get(f"/admin/comment/export/{fmt}/")
    rows = (read_xlsx if fmt == "xlsx" else read_csv)(response.get_data())[1:]
    # Line breaks in cells are exported as line feeds; the apostrophe in front is what matters.
    assert sorted(row[7] for row in rows) == sorted("'" + text.replace("\r", "\n") for text in DANGEROUS)
    assert {row[1] for row in rows} == {"'=cmd|' /C calc'!A0"}
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
        text_cells = [cell for row in sheet.iter_rows(min_row=2) for cell in (*row[1:6], row[7])]
        assert all(cell.data_type == "s" for cell in text_cells)
        assert all(row[6].is_date for row in sheet.iter_rows(min_row=2))


def test_header_is_in_the_moderators_language(login_as, users, comments):
    users["moderator"].locale = "es"
    db.session.commit()
    header = read_csv(login_as("moderator").get("/admin/comment/export/csv/").get_data())[0]
    assert header[0] == "ID" and header[1] == "Título del artículo"


def test_exports_are_audited(login_as, users, comments):
    login_as("moderator").get("/admin/comment/export/csv/?flt0_status_equals=pending")
    entry = fresh(sa.select(AuditLog).where(AuditLog.action == "export")).scalar_one()
    assert entry.user_id == users["moderator"].id and "5 comments as csv" in entry.summary


@pytest.mark.parametrize("role", [None, "reader", "author", "editor", "translator"])
def test_only_moderators_export(login_as, comments, role):
    response = login_as(role).get("/admin/comment/export/xlsx/")
    assert response.status_code == (302 if role is None else 403)


def test_unknown_export_format_is_404(login_as, comments):
    assert login_as("moderator").get("/admin/comment/export/pdf/").status_code == 404


@pytest.mark.parametrize("origin", ["cross-site", "same-site"])
def test_an_export_another_sites_page_starts_is_refused_and_starts_nothing(login_as, comments, background, origin):
    """A link or script on another site (Sec-Fetch-Site) cannot make a moderator's browser export or queue a job."""
    response = login_as("moderator").get("/admin/comment/export/xlsx/", headers={"Sec-Fetch-Site": origin})
    assert response.status_code == 403
    assert "Exports start from the console's own pages" in html.unescape(response.get_data(as_text=True))
    assert fresh(sa.select(sa.func.count()).select_from(ExportJob)).scalar_one() == 0
    assert fresh(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "export")).scalar_one() == 0


@pytest.mark.parametrize("origin", ["same-origin", "none", None])
def test_an_export_from_the_console_typed_or_from_an_older_browser_goes_ahead(login_as, comments, origin):
    headers = {"Sec-Fetch-Site": origin} if origin else {}
    response = login_as("moderator").get("/admin/comment/export/csv/", headers=headers)
    assert response.status_code == 200 and read_csv(response.get_data())[1:]


def test_the_other_lists_exports_refuse_another_sites_page_too(login_as, users):
    response = login_as("administrator").get("/admin/user/export/csv/", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert (
        login_as("administrator").get("/admin/user/export/csv/", headers={"Sec-Fetch-Site": "same-origin"}).status_code
        == 200
    )


# -- background jobs ---------------------------------------------------------------------------------
@pytest.fixture
def background(app):
    app.config["EXPORT_ASYNC_ROWS"] = 3
    yield
    app.config["EXPORT_ASYNC_ROWS"] = 20000
    app.config.pop("REDIS_URL", None)


def wait_for(browser, status_url: str, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = browser.get(status_url).get_json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the export did not finish: {job}")


def test_large_export_runs_in_the_background_and_reaches_100_percent(login_as, users, comments, background):
    browser = login_as("moderator")
    response = browser.get("/admin/comment/export/csv/?flt0_status_equals=pending")
    assert response.status_code == 302 and "/admin/comment/exports/" in response.location
    page = browser.get(response.location).get_data(as_text=True)
    assert 'role="progressbar"' in page
    job = wait_for(browser, response.location.rstrip("/") + ".json")
    assert (job["status"], job["percent"], job["done"], job["total"]) == ("done", 100, 5, 5)
    rows = read_csv(browser.get(job["download_url"]).get_data())
    assert rows[1:] == [[str(c) for c in row] for row in newest_first(expected_rows("pending", labelled=True))]


def test_background_file_is_for_its_requester_and_admins_only(login_as, users, comments, background):
    owner = login_as("moderator")
    location = owner.get("/admin/comment/export/xlsx/").location
    job = wait_for(owner, location.rstrip("/") + ".json")
    from cms.accounts import create_user

    create_user("mod2@example.com", "a-long-password", ["Moderator"], username="mod2")
    from tests.support.web import Browserish

    other = Browserish(owner.client.application.test_client())
    other.login("mod2@example.com", "a-long-password")
    assert other.get(job["download_url"]).status_code == 403
    assert other.get(location).status_code == 403
    assert login_as("administrator").get(job["download_url"]).status_code == 200


def test_expired_export_file_is_gone(login_as, comments, background):
    browser = login_as("moderator")
    location = browser.get("/admin/comment/export/csv/").location
    job = wait_for(browser, location.rstrip("/") + ".json")
    db.session.execute(sa.update(ExportJob).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert browser.get(job["download_url"]).status_code == 410


def test_failed_job_says_why(app, login_as, users, comments):
    from cms.exports import run_export_job

    job = ExportJob(id=uuid.uuid4().hex, user_id=users["moderator"].id, format="csv",
                    selection=json.dumps({"status": "pending", "created_from": "not a date"}), total=5)  # fmt: skip
    db.session.add(job)
    db.session.commit()
    run_export_job(job.id)
    browser = login_as("moderator")
    state = browser.get(f"/admin/comment/exports/{job.id}.json").get_json()
    assert state["status"] == "failed" and "Invalid isoformat string" in state["error"]
    assert "The export failed" in browser.get(f"/admin/comment/exports/{job.id}/").get_data(as_text=True)
    assert browser.get(f"/admin/comment/exports/{job.id}/download").status_code == 410


def test_unknown_job_is_404(login_as):
    assert login_as("moderator").get("/admin/comment/exports/nope/").status_code == 404


@pytest.mark.skipif(not os.environ.get("CMS_TEST_REDIS_URL"), reason="needs CMS_TEST_REDIS_URL (set by .ci/run)")
def test_background_export_on_rq_with_redis(app, login_as, comments, background):
    from redis import Redis
    from rq import Queue, SimpleWorker

    app.config["REDIS_URL"] = os.environ["CMS_TEST_REDIS_URL"]
    app.config["EXPORT_QUEUE"] = f"test-exports-{uuid.uuid4().hex}"
    browser = login_as("moderator")
    location = browser.get("/admin/comment/export/xlsx/?flt0_status_equals=pending").location
    status_url = location.rstrip("/") + ".json"
    assert browser.get(status_url).get_json()["status"] == "queued"
    connection = Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(app.config["EXPORT_QUEUE"], connection=connection)
    assert queue.count == 1
    SimpleWorker([queue], connection=connection).work(burst=True)
    job = browser.get(status_url).get_json()
    assert (job["status"], job["percent"], job["done"]) == ("done", 100, 5)
    expected = in_xlsx(newest_first(expected_rows("pending", labelled=True)))
    assert read_xlsx(browser.get(job["download_url"]).get_data())[1:] == expected
    queue.delete(delete_jobs=True)


def test_xlsx_opens_in_libreoffice(login_as, comments, tmp_path, export_path):
    """LibreOffice (headless) reads the exported workbook and gets the same cells back."""
    import shutil
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed: apt-get install libreoffice-calc-nogui (.ci/run does it)"
    workbook = tmp_path / "comments.xlsx"
    workbook.write_bytes(login_as("moderator").get("/admin/comment/export/xlsx/?flt0_status_equals=pending").get_data())
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,2",  # the second sheet
         "--outdir", str(tmp_path), str(workbook)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    rows = list(csv.reader((tmp_path / "comments-Comments.csv").open(encoding="utf-8", newline="")))
    assert rows[0] == ENGLISH_HEADER
    expected = newest_first(expected_rows("pending", labelled=True))
    # Dates read as dates, shown in the file's date format.
    assert rows[1:] == [[str(c) if i != 6 else c.replace("T", " ")[:-1] for i, c in enumerate(row)] for row in expected]


# -- failed jobs run again; the jobs list -------------------------------------------------------------------
def export_job(user, status: str = "failed", **values) -> ExportJob:
    job = ExportJob(id=uuid.uuid4().hex, user_id=user.id, format="csv", status=status, total=5,
                    selection=json.dumps({"status": "pending", "base_url": "http://localhost/"}), **values)  # fmt: skip
    db.session.add(job)
    db.session.commit()
    return job


@pytest.mark.parametrize(
    ("role", "status"),
    [("moderator", 302), ("administrator", 302), ("other moderator", 403), ("editor", 403), ("reader", 403),
     (None, 302)],
)  # fmt: skip
def test_who_may_run_a_failed_export_again(app, login_as, users, comments, role, status):
    from cms.accounts import create_user
    from tests.support.web import PASSWORD, Browserish

    failed = export_job(users["moderator"], error="lease:stopped")
    if role == "other moderator":
        create_user("mod2@example.com", PASSWORD, ["Moderator"], username="mod2")
        browser = Browserish(app.test_client())
        browser.login("mod2@example.com")
    else:
        browser = login_as(role)
    response = browser.post(f"/admin/comment/exports/{failed.id}/run-again", data={"csrf_token": browser.csrf()})
    assert response.status_code == status
    made = fresh(sa.select(ExportJob).where(ExportJob.id != failed.id)).scalars().all()
    if role in ("moderator", "administrator"):
        assert response.location.endswith(f"/admin/comment/exports/{made[0].id}/")
        assert (made[0].user_id, made[0].total) == (users["moderator"].id, 5)  # the failed job's owner's, always
    else:
        assert made == [] and (role is not None or "/login" in response.location)


def test_run_again_needs_the_forms_csrf_token(login_as, users, comments):
    failed = export_job(users["moderator"])
    response = login_as("moderator").post(f"/admin/comment/exports/{failed.id}/run-again")
    assert response.status_code == 400
    assert fresh(sa.select(sa.func.count()).select_from(ExportJob)).scalar() == 1


@pytest.mark.parametrize("status", ["queued", "running", "done"])
def test_an_export_that_did_not_fail_is_not_run_again(login_as, users, comments, status):
    job = export_job(users["moderator"], status=status, heartbeat_at=utcnow(), started_at=utcnow())
    browser = login_as("moderator")
    response = browser.post(f"/admin/comment/exports/{job.id}/run-again", data={"csrf_token": browser.csrf()})
    assert response.status_code == 409
    assert "Only a failed export can be run again." in response.get_data(as_text=True)
    page = browser.get(f"/admin/comment/exports/{job.id}/").get_data(as_text=True)
    assert re.search(r'<form id="export-run-again"[^>]*\shidden>', page), "the button shows only once it failed"
    assert fresh(sa.select(sa.func.count()).select_from(ExportJob)).scalar() == 1


def test_run_again_of_an_unknown_job_is_404(login_as):
    browser = login_as("moderator")
    assert browser.post("/admin/comment/exports/nope/run-again", data={"csrf_token": browser.csrf()}).status_code == 404


def test_a_failed_job_run_again_leads_to_its_new_job_and_a_second_press_to_the_same(login_as, users, comments,
                                                                                    background):  # fmt: skip
    failed = export_job(users["moderator"], error="lease:stopped")
    browser = login_as("moderator")
    page = f"/admin/comment/exports/{failed.id}/"
    html = browser.get(page).get_data(as_text=True)
    assert "The export failed: the worker running it stopped" in html and "Run again" in html
    first = browser.submit(page, {}, post_url=f"{page}run-again")
    second = browser.post(f"{page}run-again", data={"csrf_token": browser.csrf()})
    assert first.status_code == second.status_code == 302 and first.location == second.location
    job = wait_for(browser, first.location.rstrip("/") + ".json")
    assert (job["status"], job["done"]) == ("done", 5)
    assert "This export was already run again; here it is." in browser.get(second.location).get_data(as_text=True)
    assert "This export was run again: see the new one." in browser.get(page).get_data(as_text=True)
    exports_audited = sa.select(AuditLog.summary).where(AuditLog.action == "export")
    assert len(fresh(exports_audited).all()) == 1


def test_the_jobs_list_shows_ones_own_exports_and_administrators_everyones(app, login_as, users, comments):
    from cms.accounts import create_user

    other = create_user("mod2@example.com", "a-long-password", ["Moderator"], username="mod2")
    mine = export_job(users["moderator"], status="done", done=5)
    theirs = export_job(other, status="queued", done=0)
    listed = login_as("moderator").get("/admin/comment/exports/").get_data(as_text=True)
    assert f'id="export-job-{mine.id}"' in listed and f'id="export-job-{theirs.id}"' not in listed
    everyone = login_as("administrator").get("/admin/comment/exports/").get_data(as_text=True)
    assert f'id="export-job-{mine.id}"' in everyone and f'id="export-job-{theirs.id}"' in everyone
    assert login_as("editor").get("/admin/comment/exports/").status_code == 403


def test_the_jobs_list_fails_a_job_whose_worker_stopped(app, login_as, users, comments):
    stale = utcnow() - timedelta(seconds=app.config["JOB_STALE_AFTER"] + 1)
    job = export_job(users["moderator"], status="running", done=2, started_at=stale, heartbeat_at=stale)
    listed = login_as("moderator").get("/admin/comment/exports/").get_data(as_text=True)
    assert f'id="export-job-{job.id}" data-status="failed"' in listed
    assert "Failed: the worker running it stopped (a restart, a deploy or running out of memory)" in listed


def test_the_jobs_list_holds_the_newest_jobs_listed(login_as, users, comments, monkeypatch):
    from admin_views import comment_exports

    monkeypatch.setattr(comment_exports, "JOBS_LISTED", 2)
    made = [export_job(users["moderator"], status="done", created_at=utcnow() - timedelta(minutes=n)) for n in range(3)]
    listed = login_as("moderator").get("/admin/comment/exports/").get_data(as_text=True)
    assert [f'id="export-job-{job.id}"' in listed for job in made] == [True, True, False]
    assert "The newest 2 exports are listed" in listed
