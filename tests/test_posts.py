"""The post rules' limits (cms/posts.py) at their boundaries: the slug's length and the translation queue's page."""

import pytest

from cms import posts
from cms.models import PostStatus
from cms.posts import unique_slug, untranslated_posts
from tests.factories import make_post


@pytest.mark.parametrize(("title", "slug"), [("a" * 200, "a" * 200), ("a" * 201, "a" * 200)], ids=["200", "201"])
def test_a_slug_keeps_200_characters_and_cuts_one_more(app, title, slug):
    assert unique_slug(title) == slug


def test_a_slug_past_200_characters_ends_at_a_whole_word(app):
    words = " ".join(["abcd"] * 40)  # a slug of 40 * 5 - 1 = 199 characters: one more word would pass 200
    assert unique_slug(f"{words} ab") == unique_slug(words) == "-".join(["abcd"] * 40)


def test_a_taken_200_character_slug_gets_its_number_within_200(users, monkeypatch):
    """The "-2" went after the 200 characters (202); the text gives way to it instead."""
    monkeypatch.setattr(posts, "SLUG_LENGTH", 10)
    make_post(users["author"], title="abcdefghij", slug="abcdefghij")
    assert unique_slug("abcdefghij") == "abcdefgh-2"
    make_post(users["author"], title="abcd efgh", slug="abcd-efgh")
    assert unique_slug("abcd efgh") == "abcd-efg-2"
    assert unique_slug("abcd-e") == "abcd-e"


@pytest.mark.parametrize(("count", "pages"), [(2, 1), (3, 2)], ids=["one-full-page", "one-more-post"])
def test_the_translation_queue_pages_after_per_page_posts(users, count, pages):
    for n in range(count):
        make_post(users["author"], PostStatus.PUBLISHED, title=f"Untranslated {n}")
    pagination, rows = untranslated_posts(["en", "es"], per_page=2)
    assert (pagination.pages, len(rows)) == (pages, 2)
