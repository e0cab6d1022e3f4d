"""A file over the upload limit (MAX_CONTENT_LENGTH) in the console, in a real browser: refused before it is
sent, on the form as it was; and when it is sent anyway (no scripts), back on the console's form with the limit
named, not on the public site's error page."""

from urllib.parse import urlsplit

import pytest

from cms.models import Media
from tests.support.browser import sign_in
from tests.support.database import fresh

pytestmark = pytest.mark.browser

LIMIT = 2_000
MESSAGE = "The file is larger than the upload limit of 2,000 bytes. Choose a smaller file."


def image_of(size: int) -> dict:
    return {"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"\0" * (size - 4)}


def media_count() -> int:
    return len(fresh(Media.__table__.select()).all())


def test_a_file_of_the_limit_may_be_sent_and_one_byte_more_is_stopped_on_the_form(page, users, app, monkeypatch):
    sign_in(page, "author@example.com")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", LIMIT)
    page.goto("/admin/media/new/")
    page.set_input_files("#file", files=[image_of(LIMIT)])
    assert page.evaluate("document.getElementById('file').validity.valid")
    assert not page.is_visible(".upload-limit-note")
    page.set_input_files("#file", files=[image_of(LIMIT + 1)])
    assert not page.evaluate("document.getElementById('file').validity.valid")
    assert page.inner_text(".upload-limit-note") == MESSAGE
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.evaluate("window.stillThisPage = true")
    page.click("form:has(#file) [type=submit]")
    page.wait_for_timeout(300)  # a navigation would start at once; none may
    assert posts == [] and page.evaluate("window.stillThisPage") is True
    assert urlsplit(page.url).path == "/admin/media/new/"
    assert media_count() == 0


@pytest.fixture
def page_without_scripts(browser_engine, live_server):
    context = browser_engine.new_context(base_url=live_server, locale="en-US", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_file_sent_over_the_limit_comes_back_to_the_console_form_naming_it(page_without_scripts, users, app,
                                                                           monkeypatch):  # fmt: skip
    page = page_without_scripts
    sign_in(page, "author@example.com")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", LIMIT)
    page.goto("/admin/media/new/")
    page.set_input_files("#file", files=[image_of(LIMIT + 1)])
    page.click("form:has(#file) [type=submit]")
    page.wait_for_selector(f"text={MESSAGE}")
    assert urlsplit(page.url).path == "/admin/media/new/"
    assert page.locator("#file").count() == 1  # the form, in the console
    assert page.locator("text=Back to the front page").count() == 0
    assert media_count() == 0
