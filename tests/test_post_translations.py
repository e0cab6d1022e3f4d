"""The content translation rules (cms/post_translations.py) without HTTP: the diff of the original, its word limit
at its boundary, and who translates into which language."""

import pytest

from cms import policies
from cms.post_translations import Segment, diff_text, diff_words
from tests.factories import make_post


def joined(segments, *kinds) -> str:
    return "".join(segment.text for segment in segments if segment.kind in kinds)


def test_diff_gives_back_both_texts_exactly():
    old, new = "One two three.\nFour five.\n\nSix.", "One 2 three.\nFour five.\nSeven!\n\nSix."
    segments = diff_text(old, new)
    assert joined(segments, "same", "del") == old
    assert joined(segments, "same", "ins") == new
    assert Segment("del", "two") in segments and Segment("ins", "2") in segments
    assert Segment("ins", "Seven!\n") in segments


def test_unchanged_text_has_no_changes():
    assert diff_text("Same\ntext", "Same\ntext") == [Segment("same", "Same\ntext")]


@pytest.mark.parametrize(("limit", "word_by_word"), [(5, True), (4, False)])
def test_a_change_of_word_limit_tokens_is_compared_word_by_word_and_one_more_replaced_whole(limit, word_by_word):
    old, new = "a b c", "a x c"  # five tokens each: three words and two spaces
    segments = diff_words(old, new, word_limit=limit)
    if word_by_word:
        assert segments == [Segment("same", "a "), Segment("del", "b"), Segment("ins", "x"), Segment("same", " c")]
    else:
        assert segments == [Segment("del", "a b c"), Segment("ins", "a x c")]


def test_translator_languages_default_to_all_but_the_default_and_follow_the_account(users):
    translations = policies.translations
    site = ["en", "zh", "es"]
    assert translations.languages(users["translator"], site, "en") == ["zh", "es"]
    users["translator"].languages = "es,fr"
    assert translations.languages(users["translator"], site, "en") == ["es"]
    assert translations.languages(users["administrator"], site, "en") == site
    assert translations.languages(users["editor"], site, "en") == []


@pytest.mark.parametrize(("status", "open_"), [("draft", False), ("review", False), ("published", True),
                                               ("archived", False)])  # fmt: skip
def test_translators_open_published_posts_only(users, status, open_):
    post = make_post(users["author"], status)
    assert policies.translations.may_open(users["translator"], post) is open_
    assert policies.translations.may_translate_into(users["translator"], post, "es", ["es"]) is open_
    assert policies.translations.may_translate_into(users["translator"], post, "en", ["en"]) is False  # the original
