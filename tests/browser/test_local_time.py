"""Times in the console, in a real browser: to the minute, in the browser's time zone, UTC on hover."""

from datetime import datetime

import pytest

from cms.extensions import db
from tests.factories import make_comment, make_post
from tests.support.browser import sign_in

pytestmark = pytest.mark.browser


def dated(comment, created_at: datetime) -> None:
    comment.created_at = created_at
    db.session.commit()


@pytest.fixture
def shanghai_page(browser_engine, live_server):
    context = browser_engine.new_context(base_url=live_server, locale="en-US", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_comment_time_is_shown_in_the_browsers_time_zone_with_utc_on_hover(shanghai_page, users):
    post = make_post(users["author"], "published", published_at=datetime(2026, 3, 1, 11, 0))
    dated(make_comment(users["reader"], post, status="pending"), datetime(2026, 3, 1, 12, 0, 7, 991050))
    sign_in(shanghai_page, "moderator@example.com")
    shanghai_page.goto("/admin/comment/")
    time = shanghai_page.locator("td time").first
    assert time.inner_text().replace("\u202f", " ") == "Mar 1, 2026, 8:00 PM"  # 12:00 UTC is 20:00 in Shanghai
    assert time.get_attribute("title") == "2026-03-01 12:00 UTC"


def test_times_follow_the_console_language(shanghai_page, users):
    post = make_post(users["author"], "published", published_at=datetime(2026, 3, 1, 11, 0))
    dated(make_comment(users["reader"], post, status="pending"), datetime(2026, 3, 1, 12, 0))
    sign_in(shanghai_page, "moderator@example.com")
    shanghai_page.goto("/admin/comment/?lang=zh")
    assert shanghai_page.locator("td time").first.inner_text() == "2026年3月1日 20:00"
