"""The console's front page: what needs attention, linked to the filtered lists."""

import json
import re
from datetime import timedelta

import pytest

from cms.extensions import db
from cms.models import utcnow
from tests.factories import make_comment, make_post


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
