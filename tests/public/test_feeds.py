"""The Atom feed and the sitemap: well-formed, public content only, hreflang alternates."""

from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from cms.extensions import db
from cms.models import PostTranslation, utcnow
from cms.public.feeds import FEED_SIZE
from tests.factories import make_post

ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture
def content(users):
    live = make_post(users["author"], "published", title="Live & <well>", body="Body **bold**")
    db.session.add(PostTranslation(post=live, locale="es", title="En vivo", body="Cuerpo", body_html="<p>Cuerpo</p>"))
    db.session.commit()
    make_post(users["author"], "draft", title="Draft")
    make_post(users["author"], "archived", title="Archived")
    make_post(users["author"], "published", title="Later", published_at=utcnow() + timedelta(hours=1))
    return live


def test_atom_feed_is_valid_and_public_only(client, content):
    response = client.get("/en/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}").text
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/en/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Live & <well>"]
    entry = entries[0]
    for required in ("id", "title", "updated", "published", "author/" + ATOM + "name", "content"):
        assert entry.find(f"{ATOM}{required}") is not None, required
    assert entry.find(f"{ATOM}updated").text.endswith("Z")
    assert "<strong>bold</strong>" in entry.find(f"{ATOM}content").text


def test_the_feed_parses_whatever_characters_a_name_or_title_was_saved_with(client, users, content):
    """Text saved before the forms refused control characters (or through another way in) cannot break the feed:
    what XML cannot hold is left out."""
    users["author"].name = "Evil\x0bName\x1b"
    content.title = "Live\x00 & <well>\ufffe"
    db.session.commit()
    entry = ET.fromstring(client.get("/en/feed.atom").get_data()).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "EvilName"
    assert entry.find(f"{ATOM}title").text == "Live & <well>"


def test_feed_in_another_language_uses_translations(client, content):
    feed = ET.fromstring(client.get("/es/feed.atom").get_data())
    entry = feed.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "En vivo"
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "es"


def test_sitemap_lists_language_versions_with_alternates(client, content):
    response = client.get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data())
    locs = [u.find(f"{SM}loc").text for u in root.findall(f"{SM}url")]
    assert f"http://localhost/en/posts/{content.slug}" in locs
    assert f"http://localhost/es/posts/{content.slug}" in locs
    assert f"http://localhost/zh/posts/{content.slug}" not in locs
    assert not any("draft" in loc or "archived" in loc or "later" in loc for loc in locs)
    [entry] = [u for u in root.findall(f"{SM}url") if u.find(f"{SM}loc").text.endswith(f"/en/posts/{content.slug}")]
    alternates = {link.get("hreflang"): link.get("href") for link in entry.findall(f"{XHTML}link")}
    assert alternates == {
        "en": f"http://localhost/en/posts/{content.slug}",
        "es": f"http://localhost/es/posts/{content.slug}",
        "x-default": f"http://localhost/en/posts/{content.slug}",
    }


@pytest.mark.parametrize("live", [FEED_SIZE, FEED_SIZE + 1], ids=["at-the-size", "one-more"])
def test_the_feed_holds_the_newest_feed_size_posts(client, users, live):
    for n in range(live):
        make_post(users["author"], "published", title=f"Entry {n:02}", published_at=utcnow() - timedelta(minutes=n))
    feed = ET.fromstring(client.get("/en/feed.atom").get_data())
    titles = [entry.find(f"{ATOM}title").text for entry in feed.iter(f"{ATOM}entry")]
    assert titles == [f"Entry {n:02}" for n in range(FEED_SIZE)]


def test_a_language_the_site_no_longer_serves_is_offered_nowhere(app, client, users, monkeypatch):
    """The site drops Spanish and Chinese: a post written in Chinese with a Spanish translation kept them in the
    sitemap, its alternates and the API's available_locales, every one a 404."""
    post = make_post(users["author"], "published", title="原文", slug="yuanwen", locale="zh")
    post.translations.append(PostTranslation(locale="es", title="Traducido", body="Texto.", body_html="<p>Texto.</p>"))
    db.session.commit()
    monkeypatch.setitem(app.config, "LOCALES", ["en"])
    root = ET.fromstring(client.get("/sitemap.xml").get_data())
    listed = ET.tostring(root, encoding="unicode")
    assert "/es/" not in listed and "/zh/" not in listed and 'hreflang="es"' not in listed
    page = client.get("/en/posts/yuanwen").get_data(as_text=True)
    assert 'hreflang="es"' not in page and 'hreflang="zh"' not in page
    assert 'hreflang="x-default" href="http://localhost/en/posts/yuanwen"' in page
    assert client.get(f"/api/v1/posts/{post.id}").get_json()["available_locales"] == []
