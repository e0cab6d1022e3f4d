"""The read replica (CMS_DATABASE_REPLICA_URL): anonymous readers' pages and the API, and comment exports, read
through it; signed-in readers, the console and every read after a write use the primary."""

from datetime import UTC

import pytest
import sqlalchemy as sa
import time_machine

from cms.comments import CommentSelection
from cms.exports import export_rows
from cms.extensions import cache, db, read_from_replica, replica_engine
from cms.models import Comment, Post, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import backend_of, make_app
from tests.support.exports import read_csv
from tests.support.instances import replica_database, replicate
from tests.support.web import Browserish


@pytest.fixture
def story(users):
    post = make_post(users["author"], "published", title="Primary title", slug="story")
    make_comment(users["reader"], post, body="A reader's words", status="approved")
    return post


@pytest.fixture
def replicated(app, story, tmp_path):
    """An app reading through a replica that holds the same rows, except the story's title."""
    engine = replica_database(app, tmp_path)
    replicate(db.engine, engine)
    with engine.begin() as conn:
        conn.execute(sa.update(Post).where(Post.id == story.id).values(title="Replica title"))
    instance = make_app(
        backend_of(app),
        tmp_path / "replicated",
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        DATABASE_REPLICA_URL=engine.url.render_as_string(hide_password=False),
    )
    yield instance
    with instance.app_context():
        db.session.remove()
        for bound in db.engines.values():
            bound.dispose()
    engine.dispose()


def signed_in(instance, user) -> Browserish:
    browser = Browserish(instance.test_client())
    browser.login(user.email)
    return browser


@pytest.mark.parametrize("url", ["/en/", "/en/posts/story", "/en/feed.atom", "/api/v1/posts"])
def test_anonymous_readers_read_the_replica(replicated, url):
    page = Browserish(replicated.test_client()).get(url).get_data(as_text=True)
    assert "Replica title" in page and "Primary title" not in page


@pytest.mark.parametrize(
    ("role", "url"), [("reader", "/en/"), ("reader", "/en/posts/story"), ("editor", "/admin/post/")]
)
def test_signed_in_readers_and_the_console_read_the_primary(replicated, users, role, url):
    page = signed_in(replicated, users[role]).get(url).get_data(as_text=True)
    assert "Primary title" in page and "Replica title" not in page


def test_comment_export_reads_the_replica(replicated, users):
    rows = read_csv(signed_in(replicated, users["moderator"]).get("/admin/comment/export/csv/?status=all").get_data())
    assert [row[1] for row in rows[1:]] == ["Replica title"]
    with replicated.app_context():
        assert [row[1] for chunk in export_rows(CommentSelection(), "http://x") for row in chunk] == ["Replica title"]


def test_reads_after_a_write_go_to_the_primary(replicated, story):
    with replicated.app_context():
        read_from_replica()
        post = db.session.get_one(Post, story.id)
        assert post.title == "Replica title"
        post.title = "Written through the primary"
        db.session.flush()
        assert db.session.scalar(sa.select(Post.title).where(Post.id == story.id)) == "Written through the primary"
        db.session.commit()
        with replica_engine().connect() as conn:
            assert conn.scalar(sa.select(Post.title).where(Post.id == story.id)) == "Replica title"
    assert db.session.scalar(sa.select(Post.title).where(Post.id == story.id)) == "Written through the primary"


def test_without_a_replica_everything_reads_the_primary(app, client, story):
    assert replica_engine() is None
    assert "Primary title" in client.get("/en/").get_data(as_text=True)
    assert list(db.session.scalars(sa.select(Comment.body))) == ["A reader's words"]


@pytest.fixture
def lagging(app, users, tmp_path):
    """An instance whose replica holds what the primary held at the start and then lags until replicate(), with
    production's content-version TTL."""
    make_post(users["author"], "published", title="Old story", slug="old")
    engine = replica_database(app, tmp_path)
    replicate(db.engine, engine)
    instance = make_app(
        backend_of(app),
        tmp_path / "lagging",
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        DATABASE_REPLICA_URL=engine.url.render_as_string(hide_password=False),
        PAGE_CACHE_VERSION_TTL=1.0,
    )
    yield instance, engine
    with instance.app_context():
        cache.clear()
        db.session.remove()
        for bound in db.engines.values():
            bound.dispose()
    engine.dispose()


def test_a_page_read_from_a_lagging_replica_is_not_kept_past_the_lag(lagging, users):
    """The editor's next request read the new content version from the primary, and the worker kept it for both
    kinds of reader: an anonymous reader on that worker then rendered the front page from the lagging replica and
    the cache kept it under the new version, served on every instance until the next change (up to an hour)."""
    instance, replica = lagging
    editor, reader = signed_in(instance, users["editor"]), Browserish(instance.test_client())
    with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
        assert "Old story" in reader.get("/en/").get_data(as_text=True)
        form = {"title": "Fresh story", "body": "Text", "status": "published", "author": users["editor"].id}
        assert editor.submit("/admin/post/new/", form).status_code == 302
        assert editor.get("/admin/post/").status_code == 200  # the editor goes on working, on the primary
        clock.shift(0.1)
        assert "Fresh story" not in reader.get("/en/").get_data(as_text=True)  # the replica lags
        replicate(db.engine, replica)
        clock.shift(2.0)
        assert "Fresh story" in reader.get("/en/").get_data(as_text=True)
