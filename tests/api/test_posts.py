"""The read-only JSON API: published content only, pagination links, JSON errors, ETag / 304."""

from datetime import timedelta

import pytest

from cms.api.views import DEFAULT_PER_PAGE, MAX_PER_PAGE
from cms.extensions import db
from cms.models import PostTranslation, utcnow
from cms.routing import LARGEST_INTEGER
from tests.factories import make_comment, make_post


@pytest.fixture
def live(users):
    posts = [
        make_post(users["author"], "published", title=f"Live {n}", published_at=utcnow() - timedelta(minutes=n))
        for n in range(5)
    ]
    make_post(users["author"], "draft", title="Secret draft")
    make_post(users["author"], "published", title="Future", published_at=utcnow() + timedelta(days=1))
    return posts


def test_list_is_paginated_with_links(client, live):
    data = client.get("/api/v1/posts?per_page=2&page=2").get_json()
    assert [p["title"] for p in data["items"]] == ["Live 2", "Live 3"]
    assert (data["page"], data["per_page"], data["total"], data["pages"]) == (2, 2, 5, 3)
    links = data["links"]
    assert links["next"].endswith("/api/v1/posts?page=3&per_page=2&locale=en")
    assert links["prev"].endswith("/api/v1/posts?page=1&per_page=2&locale=en")
    assert links["first"].endswith("page=1&per_page=2&locale=en") and links["last"].endswith(
        "page=3&per_page=2&locale=en"
    )


def test_list_never_shows_unpublished_posts(client, live):
    titles = {p["title"] for p in client.get("/api/v1/posts?per_page=100").get_json()["items"]}
    assert titles == {f"Live {n}" for n in range(5)}


def test_locale_selects_translations(client, live):
    post = live[0]
    db.session.add(PostTranslation(post=post, locale="zh", title="直播", body="正文", body_html="<p>正文</p>"))
    db.session.commit()
    data = client.get(f"/api/v1/posts/{post.id}?locale=zh").get_json()
    assert (data["title"], data["lang"], data["body_html"]) == ("直播", "zh", "<p>正文</p>")
    assert data["available_locales"] == ["en", "zh"]
    fallback = client.get(f"/api/v1/posts/{post.id}?locale=es").get_json()
    assert (fallback["title"], fallback["lang"]) == ("Live 0", "en")


def test_detail_of_a_draft_or_scheduled_post_is_a_json_404(client, users, live):
    draft = make_post(users["author"], "draft")
    for post_id in (draft.id, 999999):
        response = client.get(f"/api/v1/posts/{post_id}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == 404


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=abc",
        "per_page=0",
        "per_page=101",
        "per_page=x",
        "locale=fr",
        "page=-1",
        f"per_page={'9' * 4301}",
    ],
)
def test_bad_parameters_are_a_json_400(client, live, query):
    response = client.get(f"/api/v1/posts?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["description"]


def test_page_past_the_end_is_404(client, live):
    assert client.get("/api/v1/posts?page=9").status_code == 404


def test_pages_and_ids_past_what_a_database_takes_are_json_404s(client, live):
    """The last page whose offset a database takes and the next, and ids up to LARGEST_INTEGER and past it: no such
    page or post (a 404), where the numbers past it reached the database and failed there (a 500)."""
    last = LARGEST_INTEGER // DEFAULT_PER_PAGE + 1
    post_id = live[0].id
    for path in (
        f"/api/v1/posts?page={last}",
        f"/api/v1/posts?page={last + 1}",
        f"/api/v1/posts/{post_id}/comments?page={last + 1}",
        f"/api/v1/posts/{LARGEST_INTEGER}",
        f"/api/v1/posts/{LARGEST_INTEGER + 1}",
        f"/api/v1/posts/{LARGEST_INTEGER + 1}/comments",
    ):
        response = client.get(path)
        assert (response.status_code, response.mimetype) == (404, "application/json"), path


def test_comments_are_approved_only(client, users, live):
    post = live[0]
    make_comment(users["reader"], post, body="Fine", status="approved")
    make_comment(users["reader"], post, body="Spam", status="hidden")
    make_comment(users["reader"], post, body="Waiting", status="pending")
    data = client.get(f"/api/v1/posts/{post.id}/comments").get_json()
    assert [c["body_html"] for c in data["items"]] == ["<p>Fine</p>"]
    assert data["items"][0]["author"]["username"] == "reader"
    assert "email" not in str(data)


def test_comments_of_an_unpublished_post_are_404(client, users):
    draft = make_post(users["author"], "draft")
    assert client.get(f"/api/v1/posts/{draft.id}/comments").status_code == 404


def test_etag_and_last_modified_answer_304(client, live):
    first = client.get("/api/v1/posts")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/api/v1/posts", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    since = client.get(f"/api/v1/posts/{live[0].id}")
    later = client.get(f"/api/v1/posts/{live[0].id}", headers={"If-Modified-Since": since.headers["Last-Modified"]})
    assert later.status_code == 304


def test_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == 404


def test_a_wrong_method_is_a_json_405_naming_the_methods_allowed(client):
    response = client.post("/api/v1/posts", json={"title": "A post"})
    assert response.status_code == 405 and response.get_json()["error"]["code"] == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    ("count", "pages"), [(DEFAULT_PER_PAGE, 1), (DEFAULT_PER_PAGE + 1, 2)], ids=["full", "one-more"]
)
def test_a_list_without_per_page_holds_the_default_number_of_posts(client, users, count, pages):
    for n in range(count):
        make_post(users["author"], "published", title=f"Item {n}", published_at=utcnow() - timedelta(minutes=n))
    data = client.get("/api/v1/posts").get_json()
    assert (len(data["items"]), data["per_page"], data["pages"]) == (DEFAULT_PER_PAGE, DEFAULT_PER_PAGE, pages)


@pytest.mark.parametrize(
    ("per_page", "status"), [(MAX_PER_PAGE, 200), (MAX_PER_PAGE + 1, 400)], ids=["max", "one-over"]
)
def test_per_page_up_to_the_maximum_is_served_and_one_more_is_a_400(client, live, per_page, status):
    response = client.get(f"/api/v1/posts?per_page={per_page}")
    assert response.status_code == status
    if status == 400:
        assert f"must be between 1 and {MAX_PER_PAGE}" in response.get_data(as_text=True)
