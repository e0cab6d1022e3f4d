"""Public page cache: anonymous pages are served from the cache until visible content changes."""

import os
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms import page_cache
from cms.comments import id_batches, moderate
from cms.extensions import cache, db
from cms.models import CommentStatus, ContentVersion, Media, Post, User, utcnow
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


def test_pages_are_kept_for_the_arguments_they_read_and_no_others(app, client, users):
    """Each of CACHED_ARGUMENTS gives a page of its own; any other argument is rendered and not kept, so a crawler
    sending ?x=1, ?x=2, … cannot fill the shared cache."""
    make_post(users["author"], "published", title="Cached story")

    def kept_pages() -> int | None:
        store = getattr(page_cache.cache.cache, "_cache", None)  # SimpleCache, the tests' default, can be counted
        return None if store is None else sum(key.startswith("cms:page:") for key in store)

    for n in range(5):
        response = client.get(f"/en/?utm_source=mail{n}")
        assert response.status_code == 200 and "Cached story" in response.get_data(as_text=True)
    client.get("/en/?page=1")
    client.get("/api/v1/posts?locale=es&per_page=5")
    with StatementCounter(db.engine) as kept:
        client.get("/en/?page=1")
        client.get("/api/v1/posts?locale=es&per_page=5")
    assert len(kept.statements) == 2, kept.statements  # the content version each time: served from the cache
    with StatementCounter(db.engine) as rendered:
        client.get("/en/?utm_source=mail0")
    assert len(rendered.statements) > 1, "an address with another argument is rendered each time"
    assert kept_pages() in (None, 2)


def test_follows_and_a_deleted_account_show_at_once_on_cached_pages(client, users):
    from cms.follows import follow, unfollow

    make_post(users["editor"], "published", title="Story by the editor")
    assert "0 followers" in client.get("/en/authors/author").get_data(as_text=True)
    follow(users["reader"], users["author"])
    assert "1 follower" in client.get("/en/authors/author").get_data(as_text=True)
    assert "@reader" in client.get("/en/authors/author/followers").get_data(as_text=True)
    unfollow(users["reader"], users["author"])
    assert "0 followers" in client.get("/en/authors/author").get_data(as_text=True)
    assert "Story by the editor" in client.get("/en/").get_data(as_text=True)
    db.session.delete(db.session.get(User, users["editor"].id))  # its posts go with it (ON DELETE CASCADE)
    db.session.commit()
    assert "Story by the editor" not in client.get("/en/").get_data(as_text=True)


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


def test_a_comment_approved_or_hidden_later_moves_the_pages_last_modified(client, users):
    """A reader whose client asks If-Modified-Since alone (no ETag) gets the page again after a moderation shows or
    hides a comment written before the page was last fetched, not a 304."""
    post = make_post(users["author"], "published")
    waiting = make_comment(users["reader"], post, body="Worth reading")
    url = f"/en/posts/{post.slug}"
    with time_machine.travel(utcnow().replace(tzinfo=UTC) + timedelta(seconds=5), tick=False):
        modified = client.get(url).headers["Last-Modified"]
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    later = utcnow().replace(tzinfo=UTC)
    for status, reason in ((CommentStatus.APPROVED, None), (CommentStatus.HIDDEN, "spam")):
        later += timedelta(minutes=1)
        with time_machine.travel(later, tick=False):
            moderate(id_batches([waiting.id]), status, users["moderator"], reason)
            response = client.get(url, headers={"If-Modified-Since": modified})
            assert response.status_code == 200
            assert ("Worth reading" in response.get_data(as_text=True)) is (status == CommentStatus.APPROVED)
            modified = response.headers["Last-Modified"]


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
    assert first.config["CACHE_TYPE"] == "cms.outages.TolerantRedisCache"  # Redis down: misses, not errors
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


def _changed_by_another_worker(post_id: int, title: str) -> None:
    """A change committed elsewhere: the version goes up in the database, this worker's memo is untouched."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(Post).where(Post.id == post_id).values(title=title))
        conn.execute(sa.update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1))


@pytest.fixture
def frozen_clock():
    with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
        yield clock


@pytest.fixture
def settings(app):
    """Set page cache settings for one test; this worker's memory of versions and pages starts empty."""
    saved = dict(app.config)

    def apply(**values):
        app.config.update(values)
        app.extensions["cms.page_cache"] = page_cache.LocalState()

    yield apply
    app.config.update(saved)
    app.extensions["cms.page_cache"] = page_cache.LocalState()


def test_other_workers_notice_a_change_within_the_version_ttl(client, users, settings, frozen_clock):
    """A worker trusts the version it read for PAGE_CACHE_VERSION_TTL seconds, then reads it again."""
    settings(PAGE_CACHE_VERSION_TTL=30)
    post = make_post(users["author"], "published", title="First title")
    assert "First title" in client.get("/en/").get_data(as_text=True)
    _changed_by_another_worker(post.id, "Second title")
    frozen_clock.shift(29)
    assert "First title" in client.get("/en/").get_data(as_text=True)
    frozen_clock.shift(2)
    assert "Second title" in client.get("/en/").get_data(as_text=True)


def _statements(client, url: str) -> int:
    with StatementCounter(db.engine) as counter:
        assert client.get(url).status_code == 200, url
    return len(counter.statements)


@pytest.fixture
def shared_cache_reads(monkeypatch):
    """How many times the shared cache (Flask-Caching's backend: Redis in production) was asked for a key."""
    reads = []
    backend_get = cache.cache.get
    monkeypatch.setattr(cache.cache, "get", lambda key: reads.append(key) or backend_get(key))
    return reads


def test_local_copy_serves_a_hit_without_the_shared_cache_or_the_database(
    client, users, settings, frozen_clock, shared_cache_reads
):
    settings(PAGE_CACHE_LOCAL_ITEMS=2, PAGE_CACHE_LOCAL_TTL=5.0, PAGE_CACHE_VERSION_TTL=1.0)
    make_post(users["author"], "published", title="Read often")
    client.get("/en/")
    shared_cache_reads.clear()
    assert _statements(client, "/en/") == 0
    assert shared_cache_reads == []
    assert "Read often" in client.get("/en/").get_data(as_text=True)


def test_third_local_copy_evicts_the_least_recently_used(client, users, settings, frozen_clock):
    settings(PAGE_CACHE_LOCAL_ITEMS=2, PAGE_CACHE_LOCAL_TTL=60.0, PAGE_CACHE_VERSION_TTL=60.0)
    urls = [f"/en/posts/{make_post(users['author'], 'published', title=f'Story {n}').slug}" for n in range(3)]
    for url in urls:
        client.get(url)
    cache.clear()  # only this worker's copies are left
    assert _statements(client, urls[2]) == 0
    assert _statements(client, urls[1]) == 0
    assert _statements(client, urls[0]) > 0, "the first page was evicted by the third"


def test_local_copy_is_used_until_its_ttl_then_fetched_again(client, users, settings, frozen_clock):
    settings(PAGE_CACHE_LOCAL_ITEMS=2, PAGE_CACHE_LOCAL_TTL=5.0, PAGE_CACHE_VERSION_TTL=60.0)
    make_post(users["author"], "published", title="Short-lived copy")
    client.get("/en/")
    cache.clear()
    frozen_clock.shift(5)
    assert _statements(client, "/en/") == 0, "still within PAGE_CACHE_LOCAL_TTL"
    frozen_clock.shift(0.5)
    assert _statements(client, "/en/") > 0, "expired: rendered again"


def test_a_new_content_version_makes_every_local_copy_unusable(app, client, users, settings, frozen_clock):
    settings(PAGE_CACHE_LOCAL_ITEMS=2, PAGE_CACHE_LOCAL_TTL=60.0, PAGE_CACHE_VERSION_TTL=1.0)
    post = make_post(users["author"], "published", title="Old headline")
    other = make_post(users["author"], "published", title="Other story")
    client.get("/en/")
    client.get(f"/en/posts/{other.slug}")
    _changed_by_another_worker(post.id, "New headline")
    frozen_clock.shift(0.5)
    assert "Old headline" in client.get("/en/").get_data(as_text=True), "the version is trusted for 1 s"
    frozen_clock.shift(1)
    assert "New headline" in client.get("/en/").get_data(as_text=True)
    assert len(page_cache.local_state(app).pages) == 1, "the other page's copy went with the old version"


def test_local_copy_answers_with_the_same_etag_and_304(client, users, settings, frozen_clock):
    settings(PAGE_CACHE_LOCAL_ITEMS=2, PAGE_CACHE_LOCAL_TTL=5.0, PAGE_CACHE_VERSION_TTL=1.0)
    post = make_post(users["author"], "published")
    url = f"/en/posts/{post.slug}"
    rendered = client.get(url)
    cache.clear()  # what follows can only come from this worker's copy
    local = client.get(url)
    assert local.headers["ETag"] == rendered.headers["ETag"]
    assert local.headers["Last-Modified"] == rendered.headers["Last-Modified"]
    assert local.headers["Vary"] == "Cookie"
    assert client.get(url, headers={"If-None-Match": rendered.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": rendered.headers["Last-Modified"]}).status_code == 304


def _http_date(moment) -> str:
    return moment.replace(tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_a_lists_last_modified_is_the_newest_update_among_the_posts_it_lists(login_as, users):
    """Newer updates of a scheduled post and a draft (which the list does not show) are passed over; a signed-in
    reader's page (never cached) and the API list say the same. The posts are made before those stamps, so the
    content version's last move (the floor of every page's Last-Modified) is older than all of them."""
    base = utcnow().replace(microsecond=0) - timedelta(hours=1)
    with time_machine.travel(base.replace(tzinfo=UTC) - timedelta(hours=1), tick=False):
        listed = [make_post(users["author"], "published", title=f"Live {n}") for n in range(3)]
        scheduled = make_post(users["author"], "published", published_at=utcnow() + timedelta(days=2))
        draft = make_post(users["author"], "draft")
    times = {post.id: base + timedelta(minutes=n) for n, post in enumerate([*listed, scheduled, draft])}
    for post_id, moment in times.items():
        db.session.execute(sa.update(Post).where(Post.id == post_id).values(updated_at=moment))
    db.session.commit()
    newest_listed = _http_date(times[listed[-1].id])
    for path in ("/en/", f"/en/authors/{users['author'].username}", "/api/v1/posts"):
        assert login_as("reader").get(path).headers["Last-Modified"] == newest_listed, path
        assert login_as(None).get(path).headers["Last-Modified"] == newest_listed, path


def _fetched(client, url: str) -> str:
    """The page's Last-Modified, after checking that asking If-Modified-Since with it is a 304."""
    modified = client.get(url).headers["Last-Modified"]
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    return modified


@pytest.mark.parametrize("reader", [None, "reader"])
def test_a_page_whose_content_goes_away_or_goes_live_is_not_a_304(login_as, users, reader):
    """Withdrawing the newest post, renaming its author, or a scheduled post going live moves none of the listed
    posts' stamps: a reader asking If-Modified-Since alone (no ETag) got a 304 for the old page."""
    client = login_as(reader)
    start = utcnow().replace(tzinfo=UTC, microsecond=0)
    with time_machine.travel(start, tick=False):
        older = make_post(users["author"], "published", title="Older story")
        newest = make_post(users["author"], "published", title="Newest story")
        soon = make_post(users["author"], "published", title="Soon story", published_at=utcnow() + timedelta(hours=1))
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        front, story = _fetched(client, "/en/"), _fetched(client, f"/en/posts/{older.slug}")
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        db.session.delete(newest)
        db.session.commit()
        response = client.get("/en/", headers={"If-Modified-Since": front})
        assert response.status_code == 200 and "Newest story" not in response.get_data(as_text=True)
        front = _fetched(client, "/en/")
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        db.session.get(User, users["author"].id).name = "Renamed Author"
        db.session.commit()
        response = client.get(f"/en/posts/{older.slug}", headers={"If-Modified-Since": story})
        assert response.status_code == 200 and "Renamed Author" in response.get_data(as_text=True)
        front = _fetched(client, "/en/")
    with time_machine.travel(soon.published_at.replace(tzinfo=UTC) + timedelta(seconds=1), tick=False):
        response = client.get("/en/", headers={"If-Modified-Since": front})
        assert response.status_code == 200 and "Soon story" in response.get_data(as_text=True)
        assert response.headers["Last-Modified"] == _http_date(soon.published_at)
        _fetched(client, "/en/")


def test_a_lists_last_modified_reads_a_few_index_entries_not_every_live_post(app, users):
    """On MariaDB, from the session's handler counts: MAX() over the live posts read all of them (0.26 s for the
    80,000 of the benchmark's data set, on every front page a signed-in reader opened)."""
    if db.engine.dialect.name != "mysql":
        pytest.skip("handler counts are MariaDB's")
    from cms.content import latest_change, with_content
    from cms.posts import public_posts

    post = make_post(users["author"], "published")
    db.session.execute(
        sa.insert(Post),
        [{"title": f"Bulk {n}", "slug": f"bulk-{n}", "body": "", "body_html": "", "status": "published",
          "published_at": utcnow() - timedelta(minutes=1), "author_id": post.author_id} for n in range(300)],
    )  # fmt: skip
    db.session.commit()
    db.session.execute(sa.text("FLUSH STATUS"))
    assert latest_change(with_content(public_posts())) is not None
    reads = db.session.execute(sa.text("SHOW SESSION STATUS LIKE 'Handler_read%'")).all()
    assert sum(int(value) for _, value in reads) < 20


def test_a_page_asked_for_over_https_is_not_the_one_stored_from_http(client, users):
    """The page's language alternates are absolute: one stored from http:// was served to https:// readers."""
    post = make_post(users["author"], "published", title="Both schemes")
    url = f"/en/posts/{post.slug}"
    plain = client.get(url, base_url="http://news.example").get_data(as_text=True)
    secure = client.get(url, base_url="https://news.example").get_data(as_text=True)
    assert f'href="http://news.example/en/posts/{post.slug}"' in plain
    assert f'href="https://news.example/en/posts/{post.slug}"' in secure and "http://news.example" not in secure


def test_a_page_is_kept_once_for_each_argument_a_view_reads_and_its_one_spelling(app, client, users):
    """?page=x0, ?page=x1, … (and ?page=01, ?page=%31) were each a stored copy of the first page, as were ?page=N of
    a post page and ?locale=… of the site's pages, which read neither: the shared cache grew without bound."""
    post = make_post(users["author"], "published", title="Cached story")

    def kept_pages() -> int:
        return sum(key.startswith("cms:page:") for key in page_cache.cache.cache._cache)

    if not hasattr(page_cache.cache.cache, "_cache"):
        pytest.skip("the tests' SimpleCache can be counted; Redis is shared with other tests")
    flood = ["/en/?page=x0", "/en/?page=x1", "/en/?page=01", "/en/?page=%31", "/en/?page=1&page=1",
             "/en/?per_page=0100", "/en/?per_page=101", "/en/?locale=zz0", "/en/?locale=es",
             f"/en/posts/{post.slug}?page=2", f"/en/posts/{post.slug}?page=3", "/en/feed.atom?page=1",
             "/sitemap.xml?page=1", f"/api/v1/posts/{post.id}?page=1", "/api/v1/posts?locale=zz"]  # fmt: skip
    for url in flood:
        assert client.get(url).status_code in (200, 400), url
    assert kept_pages() == 1  # ?page=%31: the first page, kept as ?page=1 is
    for url in ("/en/?page=1", "/en/?per_page=20", f"/en/posts/{post.slug}", f"/api/v1/posts/{post.id}?locale=es",
                "/api/v1/posts?per_page=100"):  # fmt: skip
        assert client.get(url).status_code == 200
    assert kept_pages() == 5


def test_a_host_the_site_does_not_answer_to_is_a_400_not_a_page(app, client, users, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["news.example"])
    make_post(users["author"], "published", title="Cached story")
    assert client.get("/en/", base_url="http://news.example").status_code == 200
    forged = client.get("/en/", base_url="http://evil.example")
    assert forged.status_code == 400 and "evil.example" not in forged.get_data(as_text=True)


def test_a_featured_image_deleted_leaves_the_cached_post_page_at_once(client, login_as, users):
    """The database clears the post's image (ON DELETE SET NULL), which the session never sees: the cached page
    kept showing an image that was now a 404, and its Last-Modified did not move. (The console keeps an image a
    post shows, cms.media.check_delete; the database's own rule is what a delete past it meets.)"""
    image = Media(file_name="gone.png", original_name="gone.png", content_type="image/png", size=1, width=1, height=1,
                  uploader_id=users["author"].id)  # fmt: skip
    db.session.add(image)
    post = make_post(users["author"], "published", title="Pictured", featured_image=image)
    url = f"/en/posts/{post.slug}"
    assert "gone.png" in client.get(url).get_data(as_text=True)
    db.session.delete(db.session.get(Media, image.id))  # as the console's delete does, past its check
    db.session.commit()
    assert "gone.png" not in client.get(url).get_data(as_text=True)
