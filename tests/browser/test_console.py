"""The console's scripts in a real browser: live preview and image picker, select-all bulk actions, the
export progress bar, the dashboard chart."""

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from cms.extensions import db
from cms.media import save_upload
from cms.models import Comment, Post
from tests.factories import make_comment, make_post
from tests.images import png
from tests.support.browser import sign_in
from tests.support.database import fresh

pytestmark = pytest.mark.browser


def test_live_preview_and_image_picker(page, users):
    save_upload(FileStorage(io.BytesIO(png()), filename="chart.png"), users["editor"])
    sign_in(page, "editor@example.com")
    page.goto("/admin/post/new/")
    page.fill("#title", "Preview me")
    page.fill("#body", "**Bold move** <script>window.pwned = 1</script>")
    page.wait_for_selector("#markdown-preview strong")
    assert page.inner_text("#markdown-preview strong") == "Bold move"
    assert page.evaluate("window.pwned") is None
    assert page.locator("#markdown-preview script").count() == 0
    page.click("#insert-media")
    page.click(".media-choice")
    assert "![chart.png](/media/images/" in page.input_value("#body")
    page.wait_for_selector("#markdown-preview img")
    page.screenshot(path="/tmp/browser-post-editor.png", full_page=True)


def test_select_all_matching_rows_and_approve(page, users):
    post = make_post(users["author"], "published")
    db.session.add_all(
        Comment(body=f"queue {n}", body_html=f"<p>queue {n}</p>", status="pending", author_id=users["reader"].id,
                post_id=post.id) for n in range(75)
    )  # fmt: skip
    db.session.commit()
    sign_in(page, "moderator@example.com")
    page.goto("/admin/comment/?flt0_status_equals=pending")
    assert page.locator("input.action-checkbox").count() == 20  # ADMIN_PAGE_SIZE
    page.check("input.action-rowtoggle")
    page.wait_for_selector("#select-all-banner:not([hidden])")
    page.click("#select-all-matching")
    assert page.is_visible("#select-all-chosen")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=With selected")
    page.click("a.dropdown-item:has-text('Approve')")
    page.wait_for_selector("text=75 comments changed.")
    assert fresh(sa.select(sa.func.count()).select_from(Comment).where(Comment.status == "approved")).scalar() == 75


def test_background_export_progress_reaches_the_download(page, users, app):
    post = make_post(users["author"], "published")
    for n in range(12):
        make_comment(users["reader"], post, body=f"export {n}", status="pending")
    app.config["EXPORT_ASYNC_ROWS"] = 5
    try:
        sign_in(page, "moderator@example.com")
        page.goto("/admin/comment/export/csv/?flt0_status_equals=pending")
        page.wait_for_selector("#export-download:not([hidden])")
        assert page.inner_text("#export-progress") == "100%"
        assert page.inner_text("#export-count") == "12 of 12 rows"
        with page.expect_download() as download:
            page.click("#export-download")
        assert download.value.suggested_filename.endswith(".csv")
    finally:
        app.config["EXPORT_ASYNC_ROWS"] = 20000


def test_dashboard_chart_renders_from_local_files(page, users):
    post = make_post(users["author"], "published")
    make_comment(users["reader"], post)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, "moderator@example.com")
    page.goto("/admin/")
    page.wait_for_selector("#comments-chart[data-rendered='30']")
    assert all(url.startswith(page.url.split("/admin/")[0]) for url in requests), "no CDN"
    page.screenshot(path="/tmp/browser-dashboard.png", full_page=True)
    assert fresh(sa.select(sa.func.count()).select_from(Post)).scalar() == 1


def test_the_users_list_fits_a_1280_pixel_screen(page, users):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "administrator@example.com")
    page.goto("/admin/user/")
    table = page.locator(".table-responsive")
    assert table.evaluate("box => box.scrollWidth <= box.clientWidth"), "the list scrolls sideways"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path="/tmp/browser-users-1280.png", full_page=True)


def test_an_export_link_works_from_the_console_and_not_from_another_site(page, users, live_server):
    """Chromium's own Sec-Fetch-Site: the console's Export menu downloads the file (same-origin), and the same link
    on another site's page, followed by the signed-in moderator's browser, gets the 403 and no file."""
    post = make_post(users["author"], "published")
    make_comment(users["reader"], post, body="export me", status="pending")
    sign_in(page, "moderator@example.com")
    page.goto("/admin/comment/?status=all")
    page.click("a.dropdown-toggle:has-text('Export')")
    with page.expect_download() as download:
        page.click("a.dropdown-item:has-text('Export CSV')")
    assert download.value.suggested_filename.endswith(".csv")

    export_url = f"{live_server}/admin/comment/export/csv/?status=all"
    page.route(
        "http://elsewhere.example/",
        lambda route: route.fulfill(content_type="text/html", body=f'<a id="lure" href="{export_url}">prize</a>'),
    )
    page.goto("http://elsewhere.example/")
    with page.expect_response(lambda response: response.url == export_url) as answer:
        page.click("#lure")
    assert answer.value.status == 403
    page.wait_for_selector("text=Exports start from the console's own pages")
