"""The translation workspace, the editorial calendar and each role's dashboard as people see them in Chromium:
original and translation side by side, the original's changes highlighted, the month's posts on their days,
and no policy violation or script error on the way."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Post, PostTranslation, utcnow
from cms.posts import add_revision
from tests.factories import make_comment, make_post, make_translation
from tests.support.browser import sign_in, watch_for_problems
from tests.support.database import fresh

pytestmark = pytest.mark.browser


@pytest.fixture
def problems(page):
    return watch_for_problems(page)


def test_a_translator_translates_beside_the_original_and_sees_what_changed(page, problems, users):
    post = make_post(users["editor"], "published", title="Storm warning", body="Winds of 90 km/h.\n\nStay inside.")
    sign_in(page, "translator@example.com")
    page.goto("/admin/translations/content/")
    page.click(f"tr[data-post='{post.id}'] td[data-locale='es'] a")
    page.wait_for_selector("#translation-form")
    page.wait_for_load_state("load")  # the stylesheets too: before them the body's line breaks read as one space
    # Both boxes read in one go: read one after the other, a scroll between the two reads shifts one of them.
    original, translation = page.evaluate(
        "['#original', '#translation'].map(s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width}; })"
    )
    assert original["x"] + original["width"] <= translation["x"] + 1, "side by side"
    assert abs(original["y"] - translation["y"]) < 5
    assert page.inner_text("#original-body") == "Winds of 90 km/h.\n\nStay inside."
    page.fill("#title", "Alerta de tormenta")
    page.fill("#body", "Vientos de 90 km/h.\n\nQuédense en casa.")
    page.click("#save-current")
    page.wait_for_selector("text=Saved and marked current.")
    assert page.get_attribute("#translation-state", "data-state") == "current"

    stored = fresh(sa.select(Post).where(Post.id == post.id)).scalar_one()
    stored.body = "Winds of 120 km/h.\n\nStay inside."
    stored.content_changed_at = utcnow()
    add_revision(stored, users["editor"])
    db.session.commit()
    page.reload()
    assert page.get_attribute("#translation-state", "data-state") == "outdated"
    assert page.inner_text("#diff-body del") == "90"
    assert page.inner_text("#diff-body ins") == "120"
    added = page.eval_on_selector("#diff-body ins", "e => getComputedStyle(e).backgroundColor")
    removed = page.eval_on_selector("#diff-body del", "e => getComputedStyle(e).backgroundColor")
    assert added != removed and "rgba(0, 0, 0, 0)" not in (added, removed), "both highlighted, differently"
    page.fill("#body", "Vientos de 120 km/h.\n\nQuédense en casa.")
    page.click("#save-current")
    page.wait_for_selector("text=Saved and marked current.")
    assert page.locator("#diff-body").count() == 0
    [saved] = fresh(sa.select(PostTranslation)).scalars().all()
    assert saved.body.startswith("Vientos de 120")
    page.screenshot(path="/tmp/browser-translation-workspace.png", full_page=True)
    assert problems == []


def test_the_editorial_calendar_shows_the_month_and_opens_a_post(page, problems, users):
    now = utcnow()
    day = now.replace(day=min(now.day, 27), hour=10, minute=0, second=0, microsecond=0)
    live = make_post(users["editor"], "published", title="Budget vote", published_at=day - timedelta(days=0))
    make_translation(live, "zh", title="预算投票")
    month_later = (day.replace(day=1) + timedelta(days=40)).replace(day=3)
    make_post(users["editor"], "published", title="Next month's feature", published_at=month_later)
    sign_in(page, "editor@example.com")
    page.goto("/admin/")
    page.click("#calendar-link")
    cell = page.locator(f"td[data-day='{day.date().isoformat()}']")
    assert "Budget vote" in cell.inner_text() and "预算投票" in cell.inner_text()
    page.click("#next-month")
    page.wait_for_selector(f"td[data-day='{month_later.date().isoformat()}'] .calendar-entry")
    assert "Next month's feature" in page.inner_text(f"td[data-day='{month_later.date().isoformat()}']")
    page.click("#previous-month")
    page.click(f"td[data-day='{day.date().isoformat()}'] a:has-text('Budget vote')")
    page.wait_for_selector("#title")
    assert page.input_value("#title") == "Budget vote"
    page.goto("/admin/calendar/?month=2026-13")
    assert "YYYY-MM" in page.inner_text("body")
    assert problems == []


def test_an_author_sees_their_own_work_and_no_moderation(page, problems, users):
    draft = make_post(users["author"], "draft", title="Half-written piece")
    live = make_post(users["author"], "published", title="Published piece")
    make_comment(users["reader"], live, body="Great reporting", status="approved")
    make_comment(users["reader"], live, body="Waiting comment", status="pending")
    sign_in(page, "author@example.com")
    page.goto("/admin/")
    assert page.is_visible("#my-work")
    assert page.inner_text("#my-drafts").startswith("Half-written piece")
    assert "Great reporting" in page.inner_text("#comments-on-my-posts")
    body = page.inner_text("body")
    assert "Comments waiting for moderation" not in body and "Waiting comment" not in body
    assert page.locator("#comments-chart").count() == 0
    assert page.get_attribute("#my-drafts a", "href") == f"/admin/post/edit/?id={draft.id}"
    page.screenshot(path="/tmp/browser-author-dashboard.png", full_page=True)
    assert problems == []
