"""Public page cache: anonymous pages are served from the cache until visible content changes."""

import os
import time
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms.comments import id_batches, moderate
from cms.extensions import cache, db
from cms.models import CommentStatus, Post, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import StatementCounter, make_app
from tests.support.web import Browserish


@pytest.fixture(autouse=True)
def empty_cache(app):
    with app.app_context():
        cache.clear()


def test_second_anonymous_visit_is_served_from_the_cache(app, client, users):
    make_post(users["author"], "published", title="Cached story")
    client.get("/en/")
    with StatementCounter(db.engine) as counter:
        response = client.get("/en/")
    assert "Cached story" in response.get_data(as_text=True)
    assert len(counter.statements) == 1, counter.statements  # only the content version lookup


def test_editing_a_post_shows_at_once(client, users):
    post = make_post(users["author"], "published", title="Before")
    assert "Before" in client.get("/en/").get_data(as_text=True)
    post.title = "After"
    db.session.commit()
    assert "After" in client.get("/en/").get_data(as_text=True)
    assert "After" in client.get(f"/en/posts/{post.slug}").get_data(as_text=True)


def test_approving_a_comment_shows_at_once(client, users):
    post = make_post(users["author"], "published")
    comment = make_comment(users["reader"], post, body="Moderated words", status="pending")
    url = f"/en/posts/{post.slug}"
    assert "Moderated words" not in client.get(url).get_data(as_text=True)
    moderate(id_batches([comment.id]), CommentStatus.APPROVED)
    assert "Moderated words" in client.get(url).get_data(as_text=True)


def test_unpublishing_removes_the_post_at_once(client, users):
    post = make_post(users["author"], "published", title="Pulled")
    url = f"/en/posts/{post.slug}"
    assert client.get(url).status_code == 200
    post.status = "draft"
    db.session.commit()
    assert client.get(url).status_code == 404


def test_signed_in_readers_get_fresh_pages(login_as, users):
    post = make_post(users["author"], "published")
    make_comment(users["reader"], post, body="My own pending", status="pending")
    login_as(None).get(f"/en/posts/{post.slug}")
    assert "My own pending" in login_as("reader").get(f"/en/posts/{post.slug}").get_data(as_text=True)


def test_etag_and_last_modified_give_304(client, users):
    post = make_post(users["author"], "published")
    first = client.get(f"/en/posts/{post.slug}")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(f"/en/posts/{post.slug}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/en/posts/{post.slug}", headers={"If-Modified-Since": modified}).status_code == 304
    post.title = "A new headline"
    db.session.commit()
    assert client.get(f"/en/posts/{post.slug}", headers={"If-None-Match": etag}).status_code == 200


def test_scheduled_post_breaks_through_the_cache_on_time(client, users):
    make_post(users["author"], "published", title="Now")
    soon = make_post(users["author"], "published", title="Soon", published_at=utcnow() + timedelta(minutes=5))
    assert "Soon" not in client.get("/en/").get_data(as_text=True)
    with time_machine.travel(soon.published_at.replace(tzinfo=UTC) + timedelta(seconds=1)):
        assert "Soon" in client.get("/en/").get_data(as_text=True)


@pytest.mark.skipif(not os.environ.get("CMS_TEST_REDIS_URL"), reason="needs CMS_TEST_REDIS_URL (set by .ci/run)")
def test_redis_cache_is_shared_and_invalidated_across_processes(app, users, tmp_path):
    """Two app instances (as two gunicorn workers) on one Redis and one database."""
    backend = "mariadb" if db.engine.dialect.name == "mysql" else "sqlite"
    redis_url = os.environ["CMS_TEST_REDIS_URL"]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    first = make_app(backend, tmp_path, REDIS_URL=redis_url, DATABASE_URL=url)
    second = make_app(backend, tmp_path, REDIS_URL=redis_url, DATABASE_URL=url)
    assert first.config["CACHE_TYPE"] == "RedisCache"
    with first.app_context():
        cache.clear()
    post = make_post(users["author"], "published", title="Shared")
    a, b = Browserish(first.test_client()), Browserish(second.test_client())
    assert "Shared" in a.get("/en/").get_data(as_text=True)
    with second.app_context(), StatementCounter(db.engine) as counter:
        assert "Shared" in b.get("/en/").get_data(as_text=True)
    assert len(counter.statements) == 1, "the second worker was served from the first worker's cache entry"
    post.title = "Changed in worker one"
    db.session.commit()
    assert "Changed in worker one" in b.get("/en/").get_data(as_text=True)


def test_anonymous_pages_set_no_cookie(client, users):
    post = make_post(users["author"], "published")
    for url in ("/en/", f"/en/posts/{post.slug}", "/en/authors/author", "/api/v1/posts", "/en/feed.atom"):
        for _ in range(2):  # a miss, then a hit
            response = client.get(url)
            assert response.status_code == 200, url
            assert "Set-Cookie" not in response.headers, url


def test_other_workers_notice_a_change_within_the_version_ttl(app, client, users):
    """A worker trusts the version it read for PAGE_CACHE_VERSION_TTL seconds, then reads it again."""
    from cms import page_cache

    post = make_post(users["author"], "published", title="First title")
    app.config["PAGE_CACHE_VERSION_TTL"] = 30
    try:
        with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
            assert "First title" in client.get("/en/").get_data(as_text=True)
            # Another worker commits a change: this worker's memo is untouched, so it keeps the cached page...
            with db.engine.begin() as conn:
                conn.execute(sa.update(Post).where(Post.id == post.id).values(title="Second title"))
                page_cache.bump(conn)
            page_cache._seen["at"] = time.time()
            clock.shift(29)
            assert "First title" in client.get("/en/").get_data(as_text=True)
            # ...until the memo runs out.
            clock.shift(2)
            assert "Second title" in client.get("/en/").get_data(as_text=True)
    finally:
        app.config["PAGE_CACHE_VERSION_TTL"] = 0.0
