"""No public page issues a number of queries that grows with the rows it shows."""

from datetime import timedelta

import pytest

from cms.extensions import db
from cms.models import Follow, PostTranslation, User, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import count_statements


@pytest.fixture
def many(users, app):
    app.config["PAGE_CACHE"] = False
    authors = [User(email=f"w{n}@example.com", username=f"writer{n}", fs_uniquifier=f"w{n}") for n in range(50)]
    db.session.add_all(authors)
    db.session.commit()
    posts = []
    for n, author in enumerate(authors):
        post = make_post(author, "published", title=f"P{n}", published_at=utcnow() - timedelta(minutes=n))
        db.session.add(PostTranslation(post=post, locale="es", title=f"E{n}", body="", body_html=""))
        db.session.add(Follow(follower_id=users["reader"].id, followed_id=author.id))
        db.session.add(Follow(follower_id=author.id, followed_id=users["author"].id))
        posts.append(post)
    db.session.commit()
    yield posts
    app.config["PAGE_CACHE"] = True


@pytest.mark.parametrize(
    "url",
    [
        "/es/?per_page={n}",
        "/en/following?per_page={n}",
        "/en/authors/author/followers?per_page={n}",
        "/en/authors/reader/following?per_page={n}",
        "/api/v1/posts?per_page={n}&locale=es",
        "/en/feed.atom",
    ],
)
def test_lists_take_the_same_number_of_queries_for_10_and_50_rows(login_as, many, url):
    browser = login_as("reader")
    assert count_statements(browser, url.format(n=10)) == count_statements(browser, url.format(n=50))


def test_post_page_takes_the_same_number_of_queries_for_10_and_50_comments(login_as, users, many, app):
    browser = login_as("reader")
    few, lots = many[0], many[1]
    for n in range(10):
        make_comment(users["editor"] if n % 2 else users["author"], few, status="approved")
    for n in range(50):
        make_comment(db.session.get(User, many[n].author_id), lots, status="approved")
    assert count_statements(browser, f"/en/posts/{few.slug}") == count_statements(browser, f"/en/posts/{lots.slug}")
    api_few = count_statements(browser, f"/api/v1/posts/{few.id}/comments?per_page=50")
    assert api_few == count_statements(browser, f"/api/v1/posts/{lots.id}/comments?per_page=50")
