"""Two instances of the app, as on two machines behind one load balancer: one database, one Redis (when
CMS_TEST_REDIS_URL is set), separate working folders except the shared export folder. What one instance does
shows on the other within a second, through HTTP."""

from datetime import UTC

import pytest
import sqlalchemy as sa
import time_machine

from cms.models import ExportStatus, Post, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import expected_rows, newest_first, read_csv
from tests.support.instances import finish_background_exports, instances
from tests.support.web import Browserish

# As in production: each instance trusts the content version it read for up to a second and keeps its own
# copies of pages in front of the shared cache.
SETTINGS = {"PAGE_CACHE_VERSION_TTL": 1.0, "PAGE_CACHE_LOCAL_ITEMS": 50, "PAGE_CACHE_LOCAL_TTL": 5.0}


@pytest.fixture
def two(app, tmp_path):
    with instances(app, tmp_path, EXPORT_ASYNC_ROWS=3, **SETTINGS) as made:
        yield made


def browser(instance, user=None) -> Browserish:
    made = Browserish(instance.test_client())
    if user is not None:
        made.login(user.email)
    return made


def test_instances_keep_their_own_folders_but_share_the_exports(two):
    a, b = two
    assert a.config["UPLOADS_DIR"] != b.config["UPLOADS_DIR"]
    assert a.config["IMPORTS_DIR"] != b.config["IMPORTS_DIR"]
    assert a.config["EXPORTS_DIR"] == b.config["EXPORTS_DIR"]


def test_post_published_on_one_instance_shows_on_the_others_cached_front_page_within_a_second(two, users):
    a, b = two
    make_post(users["author"], "published", title="Earlier story")
    editor, reader = browser(a, users["editor"]), browser(b)
    with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
        assert "Earlier story" in reader.get("/en/").get_data(as_text=True)
        response = editor.submit(
            "/admin/post/new/",
            {"title": "Fresh from instance A", "body": "Text", "status": "published", "author": users["editor"].id},
        )
        assert response.status_code == 302
        assert fresh(sa.select(Post.status).where(Post.title == "Fresh from instance A")).scalar() == "published"
        clock.shift(0.5)
        assert "Fresh from instance A" not in reader.get("/en/").get_data(as_text=True), "B trusts its version for 1 s"
        clock.shift(0.6)
        assert "Fresh from instance A" in reader.get("/en/").get_data(as_text=True)


def test_export_started_on_one_instance_shows_its_progress_and_downloads_on_the_other(two, users):
    a, b = two
    post = make_post(users["author"], "published", title="Talked about")
    for n in range(5):
        make_comment(users["reader"], post, body=f"pending {n}", status="pending")
    started = browser(a, users["moderator"]).get("/admin/comment/export/csv/?flt0_status_equals=pending")
    assert started.status_code == 302 and "/admin/comment/exports/" in started.location
    page, status = started.location, started.location.rstrip("/") + ".json"
    elsewhere = browser(b, users["moderator"])
    state = elsewhere.get(status).get_json()
    assert state["total"] == 5 and state["status"] in (ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.DONE)
    assert 'role="progressbar"' in elsewhere.get(page).get_data(as_text=True)

    finish_background_exports(a)
    state = elsewhere.get(status).get_json()
    assert (state["status"], state["percent"], state["done"]) == (ExportStatus.DONE, 100, 5)
    assert "The export is ready." in elsewhere.get(page).get_data(as_text=True)
    download = elsewhere.get(state["download_url"])
    assert download.status_code == 200
    expected = newest_first(expected_rows("pending", labelled=True))  # the list's order, statuses as shown
    assert read_csv(download.get_data())[1:] == [[str(c) for c in row] for row in expected]
