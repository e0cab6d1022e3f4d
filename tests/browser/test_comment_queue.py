"""The moderation queue in a real browser: the console's Comments link opens the pending comments."""

import pytest

from tests.factories import make_comment, make_post
from tests.support.browser import sign_in

pytestmark = pytest.mark.browser


def test_comments_open_on_the_pending_tab_and_all_is_one_click_away(page, users):
    post = make_post(users["author"], "published")
    make_comment(users["reader"], post, body="Waiting for a moderator", status="pending")
    make_comment(users["reader"], post, body="Already approved", status="approved")
    sign_in(page, "moderator@example.com")
    page.goto("/admin/")
    page.click("nav a:has-text('Comments')")
    page.wait_for_selector("#status-tabs")
    assert page.inner_text("#status-tabs .nav-link.active").startswith("Pending")
    assert page.locator("text=Waiting for a moderator").count() == 1
    assert page.locator("text=Already approved").count() == 0
    page.click("#status-tabs a:has-text('All')")
    page.wait_for_selector("text=Already approved")
    assert page.inner_text("#status-tabs .nav-link.active").startswith("All")
