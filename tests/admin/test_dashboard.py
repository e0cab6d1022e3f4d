"""The console's front page: what needs attention, linked to the filtered lists."""

import json
import re
from datetime import timedelta
from html import unescape

import pytest

from cms.extensions import db
from cms.models import utcnow
from tests.factories import make_comment, make_post
from tests.support.database import count_statements


@pytest.fixture
def work(users):
    post = make_post(users["author"], "published")
    make_post(users["author"], "review")
    make_post(users["author"], "review")
    make_post(users["editor"], "published", published_at=utcnow() + timedelta(days=2))
    for _ in range(3):
        make_comment(users["reader"], post, status="pending")
    old = make_comment(users["reader"], post, status="approved")
    old.created_at = utcnow() - timedelta(days=3)
    db.session.commit()
    return post


def figure(html: str, key: str) -> str:
    card = html.split(f'data-figure="{key}"')[1]
    return re.search(r'class="display-4">([^<]+)<', card).group(1)


def test_dashboard_shows_figures_linked_to_lists(login_as, users, work):
    browser = login_as("administrator")
    html = browser.get("/admin/").get_data(as_text=True)
    assert figure(html, "pending_comments") == "3"
    assert figure(html, "posts_in_review") == "2"
    assert figure(html, "scheduled_posts") == "1"
    assert figure(html, "new_users_week") == str(len(users))
    pending_link = re.search(r'href="(/admin/comment/\?flt0_status_equals=pending)"', html).group(1)
    assert browser.get(pending_link).get_data(as_text=True).count('aria-label="Select “Nice post.”"') == 3
    review_link = re.search(r'href="(/admin/post/\?flt0_status_equals=review)"', html).group(1)
    assert browser.get(review_link).status_code == 200


def test_chart_data_counts_comments_per_day(login_as, work):
    html = login_as("moderator").get("/admin/").get_data(as_text=True)
    data = json.loads(html.split('<script id="chart-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["labels"]) == 30 and data["labels"][-1] == utcnow().date().isoformat()
    assert data["counts"][-1] == 3 and data["counts"][-4] == 1 and sum(data["counts"]) == 4
    assert "flt0_created_on_or_after=" in data["links"][-1]
    assert "/static/vendor/chart.umd.min.js" in html and "cdn" not in html.lower()


def test_dashboard_links_only_what_the_user_may_open(login_as, work):
    html = login_as("author").get("/admin/").get_data(as_text=True)
    assert "/admin/post/?flt0_status_equals=review" in html
    assert "/admin/comment/?flt0_status_equals=pending" not in html


# -- each role's own work ------------------------------------------------------------------------------------
SECTIONS = {"my-work", "editing", "moderation", "translating", "accounts"}


def sections(html: str) -> set[str]:
    return {name for name in SECTIONS if f'<section id="{name}"' in html}


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("author", {"my-work"}),
        ("editor", {"my-work", "editing"}),
        ("moderator", {"moderation"}),
        ("translator", {"translating"}),
        ("administrator", SECTIONS),
    ],
)
def test_each_role_gets_the_cards_of_its_own_work(login_as, work, role, shown):
    html = login_as(role).get("/admin/").get_data(as_text=True)
    assert sections(html) == shown
    assert ("comments-chart" in html) is ("moderation" in shown)


def test_an_authors_dashboard_shows_their_drafts_posts_in_review_and_comments_on_their_posts(login_as, users, work):
    mine = make_post(users["author"], "draft", title="My own draft")
    make_post(users["editor"], "draft", title="The editor's draft")
    make_comment(users["reader"], work, body="A kind word", status="approved")
    make_comment(users["reader"], work, body="Still pending", status="pending")
    elsewhere = make_post(users["editor"], "published", title="Not theirs")
    make_comment(users["reader"], elsewhere, body="On someone else's post", status="approved")
    html = login_as("author").get("/admin/").get_data(as_text=True)
    assert figure(html, "my_drafts") == "1" and figure(html, "my_review") == "2"
    assert f'href="/admin/post/edit/?id={mine.id}"' in html and "The editor&#39;s draft" not in html
    comments = html[html.index('id="comments-on-my-posts"') :]
    assert "A kind word" in comments and "Still pending" not in html and "someone else" not in html
    assert figure(html, "comments_on_my_posts") == "2"  # the approved one of three days ago, and today's
    assert "Comments waiting for moderation" not in html and "/admin/comment/" not in html


def test_an_editors_dashboard_shows_the_review_queue_and_the_schedule(login_as, users, work):
    html = login_as("editor").get("/admin/").get_data(as_text=True)
    assert figure(html, "posts_in_review") == "2" and figure(html, "scheduled_posts") == "1"
    assert html.count("<li data-post=", html.index('id="review-queue"'), html.index('id="schedule"')) == 2
    assert 'href="/admin/calendar/"' in html
    assert "Comments waiting for moderation" not in html


def test_a_moderators_dashboard_shows_the_queue_oldest_first(login_as, users, work):
    html = login_as("moderator").get("/admin/").get_data(as_text=True)
    assert figure(html, "pending_comments") == "3"
    queue = html[html.index('id="moderation-queue"') :]
    assert queue.count("<li data-comment=") == 3
    assert "Posts in review" not in html and "Your drafts" not in html


def test_a_translators_dashboard_shows_catalog_progress_and_content_waiting(login_as, users, work):
    users["translator"].languages = "es"
    db.session.commit()
    html = login_as("translator").get("/admin/").get_data(as_text=True)
    progress = html[html.index('id="catalog-progress"') :]
    assert 'data-locale="es"' in progress and 'data-locale="zh"' not in progress
    assert figure(html, "waiting_translation") == "2"  # the live post, and the scheduled one before it goes live
    waiting = html[html.index('id="waiting-translation"') :]
    assert f'href="/admin/translations/content/{work.id}/es/"' in waiting
    assert "Posts in review" not in html and "Comments waiting for moderation" not in html


@pytest.mark.parametrize("role", ["author", "editor", "moderator", "translator"])
def test_a_dashboard_is_read_in_a_fixed_number_of_statements(login_as, users, work, role):
    browser = login_as(role)
    few = count_statements(browser, "/admin/")
    for n in range(6):
        post = make_post(users["author"], "review" if n % 2 else "draft", title=f"More {n}")
        make_post(users["editor"], "published", published_at=utcnow() + timedelta(days=n + 1))
        make_comment(users["reader"], work, status="pending")
        make_comment(users["reader"], work, status="approved")
        make_post(users["editor"], "published", title=f"Untranslated {n}")
        assert post.id
    assert count_statements(browser, "/admin/") == few


@pytest.mark.parametrize("after", [timedelta(milliseconds=300), timedelta(seconds=1), timedelta(seconds=2)])
def test_the_new_accounts_figure_counts_what_its_list_shows(login_as, users, monkeypatch, after):
    """An account opened in the week's first second, after the week's start, was counted but its list (member since
    after that whole second) left it out."""
    now = utcnow().replace(microsecond=200_000)
    monkeypatch.setattr("cms.dashboard.utcnow", lambda: now)
    for user in users.values():
        user.member_since = now - timedelta(days=30)
    users["reader"].member_since = now - timedelta(days=7) + after
    db.session.commit()
    admin = login_as("administrator")
    html = admin.get("/admin/").get_data(as_text=True)
    section = html[html.index('id="accounts"') :]
    count = int(re.search(r">\s*(\d+)\s*<", section).group(1))
    link = unescape(re.search(r'href="(/admin/user/\?[^"]+)"', section).group(1))
    listed = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', admin.get(link).get_data(as_text=True))
    assert count == len(listed)
