"""The comment rules' limits (cms/comments.py), each at its boundary: the longest comment, the links a comment
may carry before it is held, and the batch size of bulk moderation."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from cms import comments
from cms.comments import (
    MAX_COMMENT_LENGTH,
    SAME_COMMENT_SECONDS,
    CommentError,
    CommentSelection,
    add_comment,
    id_batches,
    moderate,
    selected_id_batches,
)
from cms.extensions import db
from cms.models import BlockedWord, Comment, CommentStatus, Post, PostStatus, User
from tests.factories import make_comment, make_post
from tests.support.database import StatementCounter, backend_of, fresh, run_together


@pytest.fixture
def post(users):
    return make_post(users["author"], PostStatus.PUBLISHED, title="The story")


def comment_bodies() -> list[str]:
    return list(fresh(sa.select(Comment.body).order_by(Comment.id)).scalars())


def test_a_comment_of_exactly_max_length_is_accepted_and_one_more_refused(users, post):
    longest = "x" * MAX_COMMENT_LENGTH
    assert add_comment(users["reader"], post, longest).body == longest
    with pytest.raises(CommentError) as refused:
        add_comment(users["reader"], post, "y" * (MAX_COMMENT_LENGTH + 1))
    assert str(refused.value) == f"A comment can be at most {MAX_COMMENT_LENGTH} characters long."
    assert comment_bodies() == [longest]


def test_surrounding_white_space_does_not_count_towards_the_length(users, post):
    padded = "  " + "x" * MAX_COMMENT_LENGTH + "\n\n"
    assert add_comment(users["reader"], post, padded).body == "x" * MAX_COMMENT_LENGTH


@pytest.mark.parametrize("body", ["<script>alert(1)</script>", "<!-- x -->", "![x](javascript:1)", "\x00", "\x00 \x07"])
def test_a_comment_that_shows_nothing_is_empty(users, post, body):
    """Checked as typed, such comments were published as empty boxes."""
    with pytest.raises(CommentError, match="A comment cannot be empty."):
        add_comment(users["reader"], post, body)
    assert comment_bodies() == []


@pytest.mark.parametrize(("later", "kept"), [(SAME_COMMENT_SECONDS, 1), (SAME_COMMENT_SECONDS + 1, 2)])
def test_the_same_comment_sent_again_within_same_comment_seconds_is_kept_once(users, post, later, kept):
    """A second click or a reload of the form: the same words from the same reader on the same post are the comment
    already there (its anchor), where a second copy was published."""
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        first = add_comment(users["reader"], post, "Same words")
    with time_machine.travel(start + timedelta(seconds=later), tick=False):
        again = add_comment(users["reader"], post, "Same words")
        other_words = add_comment(users["reader"], post, "Other words")
    assert (again.id == first.id) == (kept == 1) and other_words.id not in (first.id, again.id)
    assert comment_bodies().count("Same words") == kept


def test_the_same_comment_sent_twice_at_the_same_instant_is_kept_once(app, users, post):
    """A double click: two requests with the same words, both past every check before either looks for a copy (a
    barrier before the first statement each sends on the reader's row or the comments). Each found no copy, and
    both were saved. The second now waits for the first and answers with its comment."""
    if backend_of(app) != "mariadb":
        pytest.skip("the test database of SQLite is one connection: its requests cannot overlap")
    reader_id, post_id = users["reader"].id, post.id
    db.session.remove()
    at_once = threading.Barrier(2, timeout=10)
    waiting: set[int] = set()

    def meet(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() in waiting and ("comment" in statement or "UPDATE user" in statement):
            waiting.discard(threading.get_ident())
            at_once.wait()

    def send(results: list) -> None:
        with app.test_request_context():
            try:
                reader, story = db.session.get(User, reader_id), db.session.get(Post, post_id)
                comments.may_comment(reader)
                waiting.add(threading.get_ident())
                results.append(add_comment(reader, story, "Same words").id)
            except Exception as exc:  # noqa: BLE001 (the test reports what failed)
                results.append(exc)
            finally:
                db.session.remove()

    results: list = []
    run_together(db.engine, meet, [(send, results), (send, results)])
    assert comment_bodies() == ["Same words"]
    assert len(results) == 2 and results[0] == results[1], results


def test_control_characters_are_not_kept(users, post):
    assert add_comment(users["reader"], post, "a\x00b\x1bc\tline\nnext").body == "abc\tline\nnext"


def test_a_comment_longer_than_its_column_once_formatted_is_refused(users, post):
    """Footnote references: 4,969 characters became 174 KB of HTML, past MariaDB's TEXT (64 KB)."""
    with pytest.raises(CommentError, match="Formatted, this comment is too long"):
        add_comment(users["reader"], post, "[^1]" * 1240 + "\n\n[^1]: y")
    assert comment_bodies() == []


@pytest.mark.parametrize(("limit", "kept"), [(8, True), (7, False)])
def test_formatted_comments_of_max_comment_html_bytes_are_kept_and_one_byte_more_refused(
    users, post, monkeypatch, limit, kept
):
    monkeypatch.setattr(comments, "MAX_COMMENT_HTML_BYTES", limit)  # "x" is <p>x</p>, 8 bytes
    if kept:
        assert add_comment(users["reader"], post, "x").body_html == "<p>x</p>"
    else:
        with pytest.raises(CommentError):
            add_comment(users["reader"], post, "x")
    assert comment_bodies() == (["x"] if kept else [])


@pytest.mark.parametrize(
    ("links", "status", "held_reason"),
    [(1, CommentStatus.APPROVED, None), (2, CommentStatus.PENDING, "2 links")],
    ids=["at-the-limit", "one-more"],
)
def test_a_comment_with_max_links_is_published_and_one_more_link_holds_it(
    app, users, post, monkeypatch, links, status, held_reason
):
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    monkeypatch.setitem(app.config, "COMMENT_MAX_LINKS", 1)
    body = " and ".join(f"https://site{n}.example" for n in range(links))
    comment = add_comment(users["editor"], post, body)
    assert (comment.status, comment.held_reason) == (status, held_reason)


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("See [the docs](https://www.example.com/docs) for more.", 1),
        ("[a](https://a.example) and [b](https://b.example)", 2),
        ("https://www.example.com/docs, written out", 1),
        ("A ratio of 1//2 is no link.", 0),
        ('<a href="//evil.example/1">a</a> <a href="//evil.example/2">b</a>', 2),
        ('<a href="https:&#47;&#47;evil.example/1">a</a> <a href="https:&#47;&#47;evil.example/2">b</a>', 2),
        ("[a][1] [b][1]\n\n[1]: //evil.example/x", 2),
        ("see (//evil.example) and www.other.example", 2),
    ],
    ids=["markdown", "two-markdown", "written-out", "no-link", "scheme-relative", "entities", "reference", "bare"],
)
def test_the_links_a_comment_holds_are_those_its_readers_meet(app, users, post, monkeypatch, body, links):
    """Counted in the rendered comment, once each: a Markdown link was three (its "](", "https://" and "www."),
    and a scheme-relative, entity-written or reference link none."""
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    monkeypatch.setitem(app.config, "COMMENT_MAX_LINKS", links - 1 if links else 0)
    comment = add_comment(users["editor"], post, body)
    if links:
        assert (comment.status, comment.held_reason) == (CommentStatus.PENDING, f"{links} links")
    else:
        assert (comment.status, comment.held_reason) == (CommentStatus.APPROVED, None)
    monkeypatch.setitem(app.config, "COMMENT_MAX_LINKS", links)
    # Other words: the same ones within SAME_COMMENT_SECONDS are the comment already sent.
    assert add_comment(users["editor"], post, body + "\n\nAgain.").status == CommentStatus.APPROVED


@pytest.mark.parametrize(
    "body", ["buy viagra now", "buy vi&#97;gra now", "buy via\u200bgra now", "buy vi*a*gra now", "buy ＶＩＡＧＲＡ now"]
)
def test_a_blocked_word_holds_a_comment_however_its_source_spells_it(app, users, post, monkeypatch, body):
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    db.session.add(BlockedWord(word="viagra"))
    db.session.commit()
    comment = add_comment(users["editor"], post, body)
    assert (comment.status, comment.held_reason) == (CommentStatus.PENDING, "blocked word: viagra")


@pytest.mark.parametrize(
    ("typed", "body", "stored"),
    [("ＳＰＡＭ", "buy spam now", "spam"), ("cafe\u0301", "free café today", "café"),
     ("via\u00adgra", "buy viagra now", "viagra"), ("via\u200dgra", "buy viagra now", "viagra")],
    ids=["full-width", "decomposed", "soft-hyphen", "zero-width-joiner"],
)  # fmt: skip
def test_a_blocked_word_typed_in_another_form_is_kept_as_readers_see_it_and_holds_comments(
    app, users, post, monkeypatch, typed, body, stored
):
    """Comments are compared folded (compatibility forms, invisible characters, case); the words were only trimmed
    and lower-cased, so a word pasted as ＳＰＡＭ or with a soft hyphen held nothing."""
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    db.session.add(BlockedWord(word=typed))
    db.session.commit()
    assert fresh(sa.select(BlockedWord.word)).scalar_one() == stored
    comment = add_comment(users["editor"], post, body)
    assert (comment.status, comment.held_reason) == (CommentStatus.PENDING, f"blocked word: {stored}")


@pytest.mark.parametrize(
    ("word", "body", "held"),
    [("été", "La société se réunit.", False), ("été", "Cet été, rien.", True),
     ("señor", "Señora García escribe.", False), ("señor", "El señor escribe.", True),
     ("buy now", "I buy nowhere.", False), ("buy now", "Buy NOW, friends!", True),
     ("v.i.a.g.r.a", "cheap v.i.a.g.r.a here", True), ("广告", "这是广告内容", True)],
)  # fmt: skip
def test_a_blocked_word_of_a_spaced_script_holds_whole_words_and_an_unspaced_one_any_text(
    app, users, post, monkeypatch, word, body, held
):
    """Whole words held only for ASCII words: an accented word or a phrase matched inside others ("été" in
    "société", "buy now" in "buy nowhere"). Chinese has no spaces between words and matches anywhere."""
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    db.session.add(BlockedWord(word=word))
    db.session.commit()
    comment = add_comment(users["editor"], post, body)
    assert (comment.held_reason == f"blocked word: {word}") is held
    assert (comment.status == CommentStatus.PENDING) is held


def test_a_blocked_word_added_or_removed_counts_from_the_next_comment(app, users, post, monkeypatch):
    """Each worker keeps the list it built last (one list), keyed by its words: a change is seen at once."""
    monkeypatch.setitem(app.config, "COMMENTS_PREMODERATED", False)
    assert add_comment(users["editor"], post, "cheap pills one").status == CommentStatus.APPROVED
    db.session.add(BlockedWord(word="pills"))
    db.session.commit()
    assert add_comment(users["editor"], post, "cheap pills two").held_reason == "blocked word: pills"
    db.session.execute(sa.delete(BlockedWord))
    db.session.commit()
    assert add_comment(users["editor"], post, "cheap pills three").status == CommentStatus.APPROVED


def _updates(counter: StatementCounter) -> int:
    return sum(s.lstrip().upper().startswith("UPDATE COMMENT SET") for s in counter.statements)


@pytest.mark.parametrize(("pending", "statements"), [(2, 1), (3, 2)], ids=["one-full-batch", "one-more-row"])
def test_a_full_batch_is_one_update_and_one_more_row_starts_another(users, post, pending, statements):
    for n in range(pending):
        make_comment(users["reader"], post, body=f"waiting {n}")
    batches = selected_id_batches(CommentSelection(status=CommentStatus.PENDING), size=2)
    with StatementCounter(db.engine) as counter:
        changed = moderate(batches, CommentStatus.APPROVED, users["moderator"])
    assert changed == pending and _updates(counter) == statements
    assert set(fresh(sa.select(Comment.status)).scalars()) == {CommentStatus.APPROVED}


def test_checked_ids_are_split_into_batches_of_the_given_size(users, post):
    ids = [make_comment(users["reader"], post, body=f"checked {n}").id for n in range(3)]
    assert list(id_batches(ids[:2], size=2)) == [ids[:2]]
    assert list(id_batches(list(reversed(ids)), size=2)) == [ids[:2], ids[2:]]


def test_a_hidden_comment_hidden_again_for_another_reason_takes_it_and_the_counts_stay(users, post):
    """The UPDATE passed over comments already hidden: the first reason stayed, though the moderator was told
    the comments were hidden (for the new one)."""
    hidden = make_comment(users["reader"], post, body="Buy now", status=CommentStatus.HIDDEN)
    moderate([[hidden.id]], CommentStatus.HIDDEN, users["moderator"], reason="spam")
    before = comments.status_counts()
    assert moderate([[hidden.id]], CommentStatus.HIDDEN, users["moderator"], reason="abuse") == 1
    assert fresh(sa.select(Comment.hidden_reason).where(Comment.id == hidden.id)).scalar() == "abuse"
    assert moderate([[hidden.id]], CommentStatus.HIDDEN, users["moderator"], reason="abuse") == 0
    assert comments.status_counts() == before
