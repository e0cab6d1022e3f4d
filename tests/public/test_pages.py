"""Public pages: only published posts whose time has come, comments, and bad input."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from cms.models import Comment, utcnow
from tests.conftest import Browserish, fresh
from tests.factories import make_comment, make_post


@pytest.fixture
def posts(users):
    author = users["author"]
    return {
        "published": make_post(author, "published", title="Out now"),
        "draft": make_post(author, "draft", title="Not yet"),
        "review": make_post(author, "review", title="Being checked"),
        "archived": make_post(author, "archived", title="Old news"),
        "scheduled": make_post(author, "published", title="Tomorrow", published_at=utcnow() + timedelta(days=1)),
    }


def test_front_page_lists_only_live_posts(client, posts):
    html = client.get("/en/").get_data(as_text=True)
    assert "Out now" in html
    for hidden in ("Not yet", "Being checked", "Old news", "Tomorrow"):
        assert hidden not in html


@pytest.mark.parametrize("status", ["draft", "review", "archived", "scheduled"])
def test_unpublished_posts_are_404(client, posts, status):
    assert client.get(f"/en/posts/{posts[status].slug}").status_code == 404


@pytest.mark.parametrize("page", ["0", "-3", "9999"])
def test_out_of_range_pages_are_404(client, posts, page):
    assert client.get(f"/en/?page={page}").status_code == 404


def test_non_numeric_page_falls_back_to_the_first_page(client, posts):
    response = client.get("/en/?page=abc")
    assert response.status_code == 200 and "Out now" in response.get_data(as_text=True)


def test_post_page_shows_approved_comments_and_own_pending_ones(login_as, users, posts):
    post = posts["published"]
    make_comment(users["editor"], post, body="Approved words", status="approved")
    make_comment(users["editor"], post, body="Hidden words", status="hidden")
    make_comment(users["reader"], post, body="My pending words", status="pending")
    anonymous = login_as(None).get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert "Approved words" in anonymous and "Hidden words" not in anonymous and "My pending words" not in anonymous
    mine = login_as("reader").get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert "My pending words" in mine and "Awaiting moderation" in mine


def test_confirmed_reader_comment_starts_pending(login_as, posts):
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    response = browser.submit(url, {"body": "First! <script>alert(1)</script>"}, post_url=f"{url}/comments")
    assert response.status_code == 302
    comment = fresh(sa.select(Comment)).scalar_one()
    assert comment.status == "pending"
    assert "<script>" not in comment.body_html


def test_unconfirmed_user_can_sign_in_but_not_comment(app, users, posts):
    from cms.extensions import db

    users["reader"].confirmed_at = None
    db.session.commit()
    browser = Browserish(app.test_client())
    browser.login(users["reader"].email)
    url = f"/en/posts/{posts['published'].slug}"
    page = browser.get(url).get_data(as_text=True)
    assert "Confirm your email address to join the conversation." in page
    response = browser.post(f"{url}/comments", data={"body": "hello", "csrf_token": browser.csrf()})
    assert response.status_code == 403
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 0


def test_overlong_comment_is_a_form_error(login_as, posts):
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    response = browser.submit(url, {"body": "x" * 5001}, post_url=f"{url}/comments")
    assert response.status_code == 400
    assert "Field cannot be longer than 5000 characters" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 0


def test_anonymous_comment_goes_to_login(client, posts):
    response = client.post(
        f"/en/posts/{posts['published'].slug}/comments", data={"body": "hi", "csrf_token": client.csrf()}
    )
    assert response.status_code == 302 and "/login" in response.location


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
