"""The editorial workflow: translations, preview, revisions, conflicts, slugs, scheduling, bulk actions."""

import json
import re
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from admin_views import post_revisions
from cms import posts
from cms.extensions import db
from cms.models import AuditLog, Media, Post, PostRevision, PostStatus, PostTranslation, utcnow
from cms.posts import translation_state
from tests.factories import make_post, make_translation
from tests.support.database import fresh
from tests.support.web import form_values, page_errors


def edit_url(post) -> str:
    return f"/admin/post/edit/?id={post.id}"


def reload(post_id: int) -> Post:
    return fresh(sa.select(Post).where(Post.id == post_id)).scalar_one()


# -- translations ------------------------------------------------------------------------------------
def test_translation_is_added_inline_and_rendered(login_as, users):
    post = make_post(users["editor"], title="Hello", body="Original")
    response = login_as("editor").edit(
        edit_url(post),
        {"translations-0-locale": "zh", "translations-0-title": "你好", "translations-0-body": "**原文**"},
    )
    assert response.status_code == 302, page_errors(response)
    [translation] = fresh(sa.select(PostTranslation)).scalars().all()
    assert (translation.locale, translation.title, translation.body_html) == (
        "zh",
        "你好",
        "<p><strong>原文</strong></p>",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"translations-0-locale": "en"}, "a translation must be in another language"),
        ({"translations-0-locale": "fr"}, "Not a valid choice"),
        (
            {"translations-0-locale": "zh", "translations-1-locale": "zh", "translations-1-title": "B"},
            "two translations",
        ),
    ],
    ids=["same-as-original", "unsupported", "duplicate"],
)
def test_bad_translation_is_a_form_error_and_nothing_is_saved(login_as, users, changes, message):
    post = make_post(users["editor"], title="Hello")
    base = {"translations-0-title": "T", "translations-0-body": "B"}
    response = login_as("editor").edit(edit_url(post), {**base, **changes})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(PostTranslation)).scalar() == 0


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x07", "\x7f", "\x9b"])
def test_a_title_holding_a_control_character_is_a_form_error(login_as, users, control):
    """A NUL or an escape inside a title was stored as typed: a page showed it as nothing, and XML cannot hold most
    of them."""
    browser = login_as("editor")
    new = {"body": "b", "status": "draft", "locale": "en", "author": users["editor"].id}
    response = browser.submit("/admin/post/new/", {**new, "title": f"Bad{control}Title"})
    assert response.status_code == 200
    assert "A title is one line of letters, digits, spaces and punctuation." in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(Post)).scalar() == 0
    post = make_post(users["editor"], title="Hello")
    translated = {"translations-0-locale": "es", "translations-0-title": f"Ho{control}la", "translations-0-body": "B"}
    response = browser.edit(edit_url(post), translated)
    assert response.status_code == 200 and "A title is one line" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(PostTranslation)).scalar() == 0


@pytest.mark.parametrize("space", ["\t", "\n", "\x0b", "\x85", "\u2028"])
def test_a_title_holding_white_space_of_another_kind_is_kept_as_typed(login_as, users, space):
    """A tab or a line break is white space a reader sees as a space: a title keeps it as typed."""
    browser = login_as("editor")
    new = {"body": "b", "status": "draft", "locale": "en", "author": users["editor"].id}
    response = browser.submit("/admin/post/new/", {**new, "title": f"Floods{space}north"})
    assert response.status_code == 302, page_errors(response)
    assert fresh(sa.select(Post.title)).scalar_one() == f"Floods{space}north"


def test_a_slug_taken_between_its_check_and_the_save_is_a_message_and_the_form_is_kept(login_as, users, monkeypatch):
    """Another editor's post took the slug after this save checked it (as if: the check is made to pass): Flask-Admin
    flashed the refused INSERT with its values, in English on a Spanish page."""
    make_post(users["editor"], title="Same", slug="same")
    users["editor"].locale = "es"
    db.session.commit()
    browser = login_as("editor")
    monkeypatch.setattr(posts, "_slug_available", lambda slug, post_id: True)
    new = {"title": "Same", "body": "my words", "status": "draft", "locale": "en", "author": users["editor"].id}
    response = browser.submit("/admin/post/new/", new)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No se guardó: un cambio guardado mientras tanto entra en conflicto con este" in html
    assert "INSERT" not in html and "IntegrityError" not in html
    assert form_values(html)["body"] == "my words"
    assert fresh(sa.select(sa.func.count()).select_from(Post)).scalar() == 1


def test_two_translations_swapping_languages_is_a_form_error_not_the_refused_statement(login_as, users):
    """The rows are updated one at a time, so the first met the other's language: the form showed the database's
    refusal, with its SQL. Each keeps its language, and the page says what to do."""
    post = make_post(users["editor"], title="Hello")
    make_translation(post, "zh", title="中文")
    make_translation(post, "es", title="Español")
    browser = login_as("editor")
    form = browser.open_form(edit_url(post))
    first = "0" if form["translations-0-locale"] == "zh" else "1"
    second = "1" if first == "0" else "0"
    response = browser.edit(
        edit_url(post), {f"translations-{first}-locale": "es", f"translations-{second}-locale": "zh"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "takes the language another translation had" in html
    assert "SQL" not in html and "IntegrityError" not in html
    kept = dict(fresh(sa.select(PostTranslation.locale, PostTranslation.title)).tuples().all())
    assert kept == {"zh": "中文", "es": "Español"}


def test_a_translation_deleted_and_its_language_added_again_in_one_save_replaces_it(login_as, users):
    """The old row was still among the post's translations when the new one was checked ("two translations into
    es"), and the new row would be inserted before the old one was deleted."""
    post = make_post(users["editor"], title="Hello")
    make_translation(post, "es", title="Viejo", body="Texto viejo.")
    browser = login_as("editor")
    response = browser.edit(
        edit_url(post),
        {"del-translations-0": "y", "translations-1-locale": "es", "translations-1-title": "Nuevo",
         "translations-1-body": "Texto **nuevo**."},
    )  # fmt: skip
    assert response.status_code == 302, page_errors(response)
    kept = fresh(sa.select(PostTranslation.locale, PostTranslation.title, PostTranslation.body_html)).all()
    assert [tuple(row) for row in kept] == [("es", "Nuevo", "<p>Texto <strong>nuevo</strong>.</p>")]


def test_list_shows_out_of_date_translations(login_as, users):
    post = make_post(users["editor"], title="Hello", body="v1")
    browser = login_as("editor")
    browser.edit(
        edit_url(post), {"translations-0-locale": "es", "translations-0-title": "Hola", "translations-0-body": "v1"}
    )
    listing = browser.get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="es" data-state="current"' in listing
    assert 'data-locale="zh" data-state="missing"' in listing
    browser.edit(edit_url(post), {"body": "v2, changed"})
    listing = browser.get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="es" data-state="outdated"' in listing


def test_a_translation_saved_in_the_same_form_as_a_new_post_is_current(login_as, users):
    browser = login_as("author")
    form = {"title": "Together", "body": "Both at once", "status": "review", "locale": "en"}
    form.update({"translations-0-locale": "es", "translations-0-title": "Juntos", "translations-0-body": "A la vez"})
    response = browser.submit("/admin/post/new/", form)
    assert response.status_code == 302, page_errors(response)
    listing = browser.get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="es" data-state="current"' in listing
    [translation] = fresh(sa.select(PostTranslation)).scalars().all()
    assert (translation.source_title, translation.source_body) == ("Together", "Both at once")


def test_original_and_translation_changed_together_stay_current(login_as, users):
    post = make_post(users["editor"], title="Hello", body="v1")
    browser = login_as("editor")
    browser.edit(
        edit_url(post), {"translations-0-locale": "es", "translations-0-title": "Hola", "translations-0-body": "v1"}
    )
    browser.edit(edit_url(post), {"body": "v2", "translations-0-body": "v2 es"})
    listing = browser.get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="es" data-state="current"' in listing
    [translation] = fresh(sa.select(PostTranslation)).scalars().all()
    assert (translation.source_title, translation.source_body) == ("Hello", "v2")


def test_filter_lists_posts_missing_a_locale(login_as, users):
    translated = make_post(users["editor"], title="Has Spanish")
    db.session.add(PostTranslation(post=translated, locale="es", title="Tiene", body=""))
    make_post(users["editor"], title="No Spanish")
    db.session.commit()
    browser = login_as("editor")
    html = browser.get("/admin/post/?flt0_translation_missing_in=es").get_data(as_text=True)
    assert "No Spanish" in html and "Has Spanish" not in html


# -- preview -----------------------------------------------------------------------------------------
def test_preview_renders_with_the_sanitiser(login_as):
    browser = login_as("author")
    response = browser.post(
        "/admin/post/preview/",
        data={"body": "**bold** <script>alert(1)</script>"},
        headers={"X-CSRFToken": browser.csrf()},
    )
    assert response.get_json() == {"html": "<p><strong>bold</strong> </p>"}


NESTED = "- " * 1000 + "x"  # Python-Markdown recursed past Python's limit on it
TOO_DEEP = "The text nests lists, quotes or blocks too deeply to be formatted."


def test_text_nested_too_deeply_is_a_400_in_the_preview_and_a_form_error_on_save_with_the_text_kept(login_as, users):
    browser = login_as("author")
    response = browser.post("/admin/post/preview/", data={"body": NESTED}, headers={"X-CSRFToken": browser.csrf()})
    assert response.status_code == 400 and response.get_json() == {"error": TOO_DEEP}
    post = make_post(users["author"], title="Nested", body="Fine.")
    for changes in (
        {"body": NESTED},
        {"translations-0-locale": "es", "translations-0-title": "Anidado", "translations-0-body": NESTED},
    ):
        saved = browser.edit(edit_url(post), changes)
        assert saved.status_code == 200 and TOO_DEEP in " ".join(page_errors(saved))
        assert form_values(saved.get_data(as_text=True)).get(next(iter(changes))) == next(iter(changes.values()))
    assert reload(post.id).body == "Fine." and not reload(post.id).translations


def test_a_comment_or_a_translation_nested_too_deeply_is_refused_with_a_message(login_as, users):
    post = make_post(users["author"], "published", title="Open")
    reader = login_as("reader")
    url = f"/en/posts/{post.slug}"
    response = reader.submit(url, {"body": NESTED}, post_url=f"{url}/comments")
    assert response.status_code == 400 and TOO_DEEP in response.get_data(as_text=True)
    translator = login_as("translator")
    workspace = f"/admin/translations/content/{post.id}/es/"
    saved = translator.post(workspace, data={**translator.open_form(workspace), "title": "T", "body": NESTED,
                                             "action": "save"})  # fmt: skip
    assert saved.status_code == 400 and TOO_DEEP in saved.get_data(as_text=True)


@pytest.mark.parametrize(("role", "status"), [(None, 302), ("reader", 403), ("moderator", 403)])
def test_preview_is_for_writers_only(login_as, role, status):
    browser = login_as(role)
    response = browser.post("/admin/post/preview/", data={"body": "x"}, headers={"X-CSRFToken": browser.csrf()})
    assert response.status_code == status


def test_preview_without_csrf_is_refused(login_as):
    assert login_as("author").post("/admin/post/preview/", data={"body": "x"}).status_code == 400


@pytest.mark.parametrize(("body", "html"), [("abcde", "<p>abcde</p>"), ("abcdef", "<p>abcde</p>")], ids=["at", "over"])
def test_preview_renders_up_to_the_preview_length_and_drops_the_rest(login_as, monkeypatch, body, html):
    monkeypatch.setattr(post_revisions, "MAX_PREVIEW_LENGTH", 5)
    browser = login_as("author")
    response = browser.post("/admin/post/preview/", data={"body": body}, headers={"X-CSRFToken": browser.csrf()})
    assert response.get_json() == {"html": html}


# -- revisions ---------------------------------------------------------------------------------------
def test_every_save_creates_a_revision_and_restore_brings_text_back(login_as, users):
    browser = login_as("author")
    browser.submit("/admin/post/new/", {"title": "Story", "body": "first draft", "status": "draft", "locale": "en"})
    post = fresh(sa.select(Post).where(Post.title == "Story")).scalar_one()
    browser.edit(edit_url(post), {"body": "second draft"})
    browser.edit(edit_url(post), {"body": "third draft"})
    revisions = fresh(
        sa.select(PostRevision).where(PostRevision.post_id == post.id).order_by(PostRevision.id)
    ).scalars()
    revisions = list(revisions)
    assert [r.body for r in revisions] == ["first draft", "second draft", "third draft"]
    assert all(r.user_id == users["author"].id for r in revisions)

    page = browser.get(f"/admin/post/revisions/?id={post.id}").get_data(as_text=True)
    assert page.count('name="revision"') == 3
    diff = browser.get(f"/admin/post/diff/?id={post.id}&a={revisions[0].id}&b={revisions[2].id}")
    assert diff.status_code == 200
    html = diff.get_data(as_text=True)
    assert "first&nbsp;draft" in html and "third&nbsp;draft" in html
    assert 'class="diff_sub"' in html and 'class="diff_add"' in html

    restored = browser.post(
        "/admin/post/restore/", data={"id": post.id, "revision": revisions[0].id, "csrf_token": browser.csrf()}
    )
    assert restored.status_code == 302
    after = reload(post.id)
    assert after.body == "first draft" and after.body_html == "<p>first draft</p>"
    kinds = fresh(sa.select(PostRevision.kind).where(PostRevision.post_id == post.id).order_by(PostRevision.id))
    assert list(kinds.scalars()) == ["save", "save", "save", "restore"]


@pytest.mark.parametrize("changed, side_by_side", [(2, True), (3, False)])
def test_a_replaced_block_of_diff_pairs_lines_is_compared_line_by_line_and_a_larger_one_shown_whole(
    monkeypatch, changed, side_by_side
):
    """difflib compared the lines of a replaced block with each other: a rewritten article of 110 paragraphs took
    111 s of a worker. Past DIFF_PAIRS pairs (4 here: 2 x 2), each changed line is shown whole."""
    monkeypatch.setattr(post_revisions, "DIFF_PAIRS", 4)
    old = ["kept", "one", "two", "kept too"]
    new = ["kept", *(f"new {n}" for n in range(changed)), "kept too"]
    table = post_revisions.diff_table(old, new, "1", "2")
    assert ("difflib_chg" in table) is side_by_side
    assert 'class="diff_sub">one<' in table.replace("&nbsp;", " ") or side_by_side
    assert all(f"new{'&nbsp;' if side_by_side else ' '}{n}" in table for n in range(changed))


@pytest.mark.parametrize(("length", "side_by_side"), [(20, True), (21, False)])
def test_a_line_of_diff_line_chars_is_compared_side_by_side_and_a_longer_one_shown_whole(
    monkeypatch, length, side_by_side
):
    """difflib wraps a shown line by recursing once per 90 characters: one paragraph of 90,000 characters was a
    RecursionError (a 500). Past DIFF_LINE_CHARS (20 here) the texts are shown whole."""
    monkeypatch.setattr(post_revisions, "DIFF_LINE_CHARS", 20)
    table = post_revisions.diff_table(["kept", "x" * length], ["kept", "y" * length], "1", "2")
    assert ("difflib_chg" in table or "diff_chg" in table) is side_by_side
    assert ("x" * length) in table and ("y" * length) in table


@pytest.mark.parametrize(("changed", "side_by_side"), [("vwxya", True), ("vwxyab", False)])
def test_a_replaced_block_of_diff_block_chars_is_compared_side_by_side_and_a_larger_one_shown_whole(
    monkeypatch, changed, side_by_side
):
    """20 replaced lines of 60 KB took 6.7 s of difflib's character comparisons. A replaced block's old and new
    text (10 characters here: 5 and 5) past DIFF_BLOCK_CHARS is shown whole, each line as it is."""
    monkeypatch.setattr(post_revisions, "DIFF_BLOCK_CHARS", 10)
    table = post_revisions.diff_table(["kept", "vwxyz"], ["kept", changed], "1", "2")
    assert ("diff_chg" in table) is side_by_side


def test_the_diff_of_a_paragraph_on_one_long_line_is_shown(login_as, users):
    post = make_post(users["author"], title="Pasted", body="word " * 18_000)
    browser = login_as("author")
    browser.edit(edit_url(post), {"body": "word " * 18_000 + "middle"})
    browser.edit(edit_url(post), {"body": "word " * 18_000 + "end"})
    first, last = sorted(fresh(sa.select(PostRevision.id).where(PostRevision.post_id == post.id)).scalars())
    response = browser.get(f"/admin/post/diff/?id={post.id}&a={first}&b={last}")
    assert response.status_code == 200 and "end" in response.get_data(as_text=True)


def kept_from_a_conflict(post, title: str, body: str) -> int:
    """A revision as a lost edit conflict keeps the loser's text: unchecked."""
    revision = PostRevision(post_id=post.id, title=title, body=body, kind="conflict")
    db.session.add(revision)
    db.session.commit()
    return revision.id


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [("   ", "Text", "That revision has no title: it cannot be restored."),
     ("Nested", "1. " * 2000, "nest"),
     ("Bad\x1b[31m title\x00", "Text", "A title is one line of letters, digits, spaces and punctuation.")],
    ids=["blank-title", "nested-too-deeply", "control-characters"],
)  # fmt: skip
def test_a_kept_text_a_save_would_refuse_is_not_restored_and_the_post_stays(login_as, users, title, body, message):
    """Restoring a text kept from a conflict skipped a save's checks: a blank title became the post's, and a body
    the formatter refuses was a 500 for every later try."""
    post = make_post(users["editor"], title="Kept", body="Current text")
    revision = kept_from_a_conflict(post, title, body)
    browser = login_as("editor")
    restored = browser.post("/admin/post/restore/", data={"id": post.id, "revision": revision,
                                                          "csrf_token": browser.csrf()})  # fmt: skip
    assert restored.status_code == 302 and restored.location.endswith(f"/admin/post/revisions/?id={post.id}")
    assert message in browser.get(restored.location).get_data(as_text=True)
    after = reload(post.id)
    assert (after.title, after.body) == ("Kept", "Current text")


def test_a_restore_from_a_history_page_opened_before_a_later_save_keeps_that_save(login_as, users):
    """An editor opens the history, the author saves again, the editor presses Restore: the author's newer text was
    replaced without a word (the restore form did not say which version of the post its page showed)."""
    post = make_post(users["author"], title="Story", body="v1")
    author, editor = login_as("author"), login_as("editor")
    author.edit(edit_url(post), {"body": "v2"})
    page = editor.get(f"/admin/post/revisions/?id={post.id}").get_data(as_text=True)
    first = min(fresh(sa.select(PostRevision.id).where(PostRevision.post_id == post.id)).scalars())
    restore_form = re.search(rf'<form id="restore-{first}".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', restore_form))
    author.edit(edit_url(post), {"body": "v3, written after the editor opened the history"})
    refused = editor.post("/admin/post/restore/", data=fields)
    assert refused.status_code == 302 and refused.location.endswith(f"/admin/post/revisions/?id={post.id}")
    assert "The post was saved by someone else meanwhile; nothing was restored." in editor.get(
        refused.location
    ).get_data(as_text=True)
    assert reload(post.id).body == "v3, written after the editor opened the history"
    page = editor.get(f"/admin/post/revisions/?id={post.id}").get_data(as_text=True)  # opened again: it restores
    restore_form = re.search(rf'<form id="restore-{first}".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', restore_form))
    restored = editor.post("/admin/post/restore/", data=fields)
    kept = fresh(sa.select(PostRevision.body).where(PostRevision.id == first)).scalar()
    assert (
        restored.location.endswith(edit_url(post))
        and reload(post.id).body == kept != "v3, written after the editor opened the history"
    )


@pytest.mark.parametrize("version", ["", "x", "9" * 40])
def test_a_restore_with_a_version_that_is_not_the_posts_changes_nothing(login_as, users, version):
    post = make_post(users["editor"], title="Kept", body="Current text")
    revision = kept_from_a_conflict(post, "Other", "Other text")
    browser = login_as("editor")
    response = browser.post("/admin/post/restore/", data={"id": post.id, "revision": revision, "version": version,
                                                          "csrf_token": browser.csrf()})  # fmt: skip
    assert response.status_code == 302 and reload(post.id).body == "Current text"


def test_restoring_the_current_text_leaves_the_translations_current(login_as, users):
    """Restoring a revision identical to the post's text moved content_changed_at, and every translation read as out
    of date."""
    post = make_post(users["editor"], title="Same", body="Same text")
    make_translation(post, "es", title="Igual", body="Mismo texto")
    changed_at = reload(post.id).content_changed_at
    revision = kept_from_a_conflict(post, "Same", "Same text")
    browser = login_as("editor")
    browser.post("/admin/post/restore/", data={"id": post.id, "revision": revision, "csrf_token": browser.csrf()})
    assert reload(post.id).content_changed_at == changed_at
    db.session.expire_all()
    assert translation_state(db.session.get(Post, post.id), ["en", "es"]) == {"en": "original", "es": "current"}


def test_a_restore_meeting_a_save_made_meanwhile_keeps_that_save_and_says_so(app, login_as, users, monkeypatch):
    """Another editor's save committed while the restore worked: a 500 (StaleDataError), not a message."""
    from cms import posts as posts_module

    post = make_post(users["editor"], title="Raced", body="one")
    revision = kept_from_a_conflict(post, "Raced", "restored text")
    render = posts_module.render_markdown

    def saved_meanwhile(text, *args, **kwargs):
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(Post).where(Post.id == post.id).values(version=Post.version + 1, body="theirs")
            )
        return render(text, *args, **kwargs)

    monkeypatch.setattr(posts_module, "render_markdown", saved_meanwhile)
    browser = login_as("editor")
    restored = browser.post("/admin/post/restore/", data={"id": post.id, "revision": revision,
                                                          "csrf_token": browser.csrf()})  # fmt: skip
    assert restored.status_code == 302
    assert "The post was saved by someone else meanwhile; nothing was restored." in browser.get(
        restored.location
    ).get_data(as_text=True)
    assert reload(post.id).body == "theirs"


def test_the_diff_of_a_rewritten_article_shows_both_texts(login_as, users):
    post = make_post(users["author"], title="Long read", body="\n\n".join(f"Old paragraph {n}." for n in range(150)))
    browser = login_as("author")
    browser.edit(edit_url(post), {"body": "\n\n".join(f"New paragraph {n}." for n in range(150))})
    browser.edit(edit_url(post), {"body": "\n\n".join(f"Newer paragraph {n}." for n in range(150))})
    first, last = sorted(fresh(sa.select(PostRevision.id).where(PostRevision.post_id == post.id)).scalars())
    html = browser.get(f"/admin/post/diff/?id={post.id}&a={first}&b={last}").get_data(as_text=True)
    assert "New paragraph 149." in html and "Newer paragraph 149." in html


def test_diff_escapes_the_compared_text(login_as, users):
    post = make_post(users["author"], body="safe")
    browser = login_as("author")
    browser.edit(edit_url(post), {"body": "<script>alert(1)</script>"})
    browser.edit(edit_url(post), {"body": "<img src=x onerror=alert(1)>"})
    a, b = fresh(sa.select(PostRevision.id).where(PostRevision.post_id == post.id).order_by(PostRevision.id)).scalars()
    html = browser.get(f"/admin/post/diff/?id={post.id}&a={a}&b={b}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_revisions_of_someone_elses_post_are_404_for_an_author(login_as, users):
    theirs = make_post(users["editor"])
    browser = login_as("author")
    assert browser.get(f"/admin/post/revisions/?id={theirs.id}").status_code == 404
    response = browser.post("/admin/post/restore/", data={"id": theirs.id, "revision": 1, "csrf_token": browser.csrf()})
    assert response.status_code == 404


def test_restoring_a_revision_of_another_post_is_refused(login_as, users):
    one, other = make_post(users["editor"]), make_post(users["editor"])
    browser = login_as("editor")
    browser.edit(edit_url(other), {"body": "other's text"})
    foreign = fresh(sa.select(PostRevision.id).where(PostRevision.post_id == other.id)).scalar()
    response = browser.post(
        "/admin/post/restore/", data={"id": one.id, "revision": foreign, "csrf_token": browser.csrf()}
    )
    assert response.status_code == 404
    assert reload(one.id).body != "other's text"


@pytest.mark.parametrize("chosen", ["999999", "abc"])
def test_a_featured_image_that_is_no_image_is_a_form_error_and_the_image_stays(login_as, users, chosen):
    post = make_post(users["editor"], title="With a picture")
    image = Media(file_name="kept.jpg", original_name="kept.jpg", content_type="image/jpeg", size=1, width=1, height=1)
    db.session.add(image)
    post.featured_image = image
    db.session.commit()
    browser = login_as("editor")
    form = browser.open_form(edit_url(post))
    response = browser.post(edit_url(post), data={**form, "featured_image": chosen, "body": "changed"})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    saved = reload(post.id)
    assert (saved.featured_image_id, saved.body) == (image.id, post.body)
    assert browser.post(edit_url(post), data={**form, "featured_image": "__None"}).status_code == 302
    assert reload(post.id).featured_image_id is None  # choosing none still clears it


# -- two editors, one post ---------------------------------------------------------------------------
def test_second_save_does_not_overwrite_the_first(login_as, users):
    post = make_post(users["author"], title="Shared", body="original")
    first, second = login_as("editor"), login_as("administrator")
    first_form = first.open_form(edit_url(post))
    second_form = second.open_form(edit_url(post))

    assert first.post(edit_url(post), data={**first_form, "body": "editor's words"}).status_code == 302
    response = second.post(edit_url(post), data={**second_form, "body": "admin's words"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Someone else saved this post while you were editing it." in html
    assert "editor&#39;s words" in html and "admin&#39;s words" in html
    assert reload(post.id).body == "editor's words"
    kept = fresh(sa.select(PostRevision).where(PostRevision.kind == "conflict")).scalar_one()
    assert kept.body == "admin's words" and kept.user_id == users["administrator"].id

    # The re-rendered form carries the current version: saving again is a deliberate choice and works.
    again = second.post(edit_url(post), data=form_values(html))
    assert again.status_code == 302
    assert reload(post.id).body == "admin's words"


@pytest.mark.parametrize(
    ("first_change", "kept"),
    [({"translations-0-body": "texto del editor"}, ["texto del editor"]), ({"del-translations-0": "y"}, [])],
)
def test_a_save_changing_only_a_translation_makes_an_older_form_conflict(login_as, users, first_change, kept):
    """A post-form save that changed or deleted a translation alone left the post's version: a form opened before it
    saved without a word, writing the old translation back (or bringing a deleted one back)."""
    post = make_post(users["author"], title="Shared", body="original")
    make_translation(post, "es", title="Compartido", body="texto original")
    first, second = login_as("editor"), login_as("administrator")
    first_form, second_form = first.open_form(edit_url(post)), second.open_form(edit_url(post))

    assert first.post(edit_url(post), data={**first_form, **first_change}).status_code == 302
    response = second.post(edit_url(post), data={**second_form, "body": "admin's words"})

    assert response.status_code == 200, page_errors(response)
    assert "Someone else saved this post while you were editing it." in response.get_data(as_text=True)
    assert fresh(sa.select(PostTranslation.body).where(PostTranslation.post_id == post.id)).scalars().all() == kept
    assert reload(post.id).body == "original"


def test_translations_typed_in_a_save_that_lost_a_conflict_are_shown_on_the_conflict_page(login_as, users):
    """The conflict page said nothing typed was lost, but the form showed the saved translations and the typed
    Spanish and Chinese were nowhere."""
    post = make_post(users["editor"], title="Shared", body="original")
    make_translation(post, "es", title="Compartido", body="original es")
    editor, admin = login_as("editor"), login_as("administrator")
    opened = editor.open_form(edit_url(post))
    assert admin.edit(edit_url(post), {"body": "admin's words"}).status_code == 302
    response = editor.post(edit_url(post), data={
        **opened, "body": "editor's words", "translations-0-body": "texto nuevo del editor",
        "translations-1-locale": "zh", "translations-1-title": "共享", "translations-1-body": "编辑的新文字",
    })  # fmt: skip
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="edit-conflict-translations"' in html
    assert "texto nuevo del editor" in html and "编辑的新文字" in html and "共享" in html
    assert form_values(html)["translations-0-body"] == "original es"  # the form shows what is saved


def test_saving_the_conflict_page_again_keeps_what_the_other_person_changed_besides_the_text(login_as, users):
    """An editor opens a post in review; the administrator publishes it and translates it; the editor's save
    conflicts, and saving the conflict page again changes the title and text only: the post stays published, with
    its date and the translation as they were saved."""
    post = make_post(users["author"], PostStatus.REVIEW, title="Shared", body="original")
    make_translation(post, "es", "Compartido", "texto")
    editor, administrator = login_as("editor"), login_as("administrator")
    opened = editor.open_form(edit_url(post))
    published = administrator.post(
        "/admin/post/action/", data={"action": "publish", "rowid": [str(post.id)], "csrf_token": administrator.csrf()}
    )
    assert published.status_code == 302
    translation = db.session.scalars(sa.select(PostTranslation).where(PostTranslation.post_id == post.id)).one()
    translation.title = "Compartido, revisado"  # a translator's save meanwhile
    db.session.commit()
    saved = reload(post.id)
    assert saved.status == PostStatus.PUBLISHED and saved.published_at is not None

    conflict = editor.post(edit_url(post), data={**opened, "body": "typo fixed"})
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 200 and "so saving again changes only the title and the text" in html
    shown = form_values(html)
    assert shown["status"] == PostStatus.PUBLISHED and shown["body"] == "typo fixed"
    assert editor.post(edit_url(post), data=shown).status_code == 302
    after = reload(post.id)
    assert (after.status, after.published_at, after.body) == (PostStatus.PUBLISHED, saved.published_at, "typo fixed")
    translation = fresh(sa.select(PostTranslation.title).where(PostTranslation.post_id == post.id)).scalar_one()
    assert translation == "Compartido, revisado"


def test_version_column_guards_against_a_race(app, users):
    post = make_post(users["author"], body="v1")
    # Another process bumps the version behind this session's back.
    db.session.execute(
        sa.update(Post).where(Post.id == post.id).values(version=Post.version + 1),
        execution_options={"synchronize_session": False},
    )
    post.body = "stale write"
    with pytest.raises(sa.orm.exc.StaleDataError):
        db.session.commit()
    db.session.rollback()


# -- slugs -------------------------------------------------------------------------------------------
def test_changed_slug_keeps_the_old_url_working(login_as, client, users):
    post = make_post(users["editor"], "published", title="Old title", slug="old-title")
    login_as("editor").edit(edit_url(post), {"slug": "new-title"})
    response = client.get("/en/posts/old-title")
    assert response.status_code == 301
    assert response.location.endswith("/en/posts/new-title")
    assert client.get("/en/posts/new-title").status_code == 200


def test_another_posts_old_slug_cannot_be_taken_over(login_as, client, users):
    """An editor renames post-5; an author's own post asks for post-5, gets another slug, and renames again:
    the old link still leads to the editor's post."""
    victim = make_post(users["editor"], "published", title="Victim", slug="post-5")
    login_as("editor").edit(edit_url(victim), {"slug": "victim-renamed"})
    own = make_post(users["author"], "draft", title="Mine", slug="mine")
    author = login_as("author")
    author.edit(edit_url(own), {"slug": "post-5"})
    taken = fresh(sa.select(Post.slug).where(Post.id == own.id)).scalar()
    assert taken != "post-5" and taken.startswith("post-5-")
    author.edit(edit_url(own), {"slug": "elsewhere"})
    response = client.get("/en/posts/post-5")
    assert response.status_code == 301 and response.location.endswith("/en/posts/victim-renamed")


def test_a_post_may_take_back_its_own_old_slug(login_as, client, users):
    post = make_post(users["editor"], "published", title="Back", slug="first")
    editor = login_as("editor")
    editor.edit(edit_url(post), {"slug": "second"})
    editor.edit(edit_url(post), {"slug": "first"})
    assert fresh(sa.select(Post.slug).where(Post.id == post.id)).scalar() == "first"
    assert client.get("/en/posts/first").status_code == 200
    assert client.get("/en/posts/second").location.endswith("/en/posts/first")


def test_chinese_title_gets_a_readable_slug(login_as):
    login_as("author").submit(
        "/admin/post/new/", {"title": "北京欢迎你", "body": "x", "status": "draft", "locale": "zh"}
    )
    assert fresh(sa.select(Post.slug).where(Post.title == "北京欢迎你")).scalar() == "bei-jing-huan-ying-ni"


def test_emoji_only_title_still_gets_a_slug(login_as):
    login_as("author").submit("/admin/post/new/", {"title": "🎉🎉", "body": "x", "status": "draft", "locale": "en"})
    assert fresh(sa.select(Post.slug).where(Post.title == "🎉🎉")).scalar() == "post"


# -- scheduling --------------------------------------------------------------------------------------
def test_scheduled_post_appears_at_its_time_without_any_command(login_as, client, users):
    when = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    response = login_as("editor").submit(
        "/admin/post/new/",
        {
            "title": "Embargoed",
            "body": "x",
            "status": "published",
            "locale": "en",
            "published_at": when.strftime("%Y-%m-%d %H:%M:%S"),
            "author": users["editor"].id,
        },  # fmt: skip
    )
    assert response.status_code == 302
    slug = fresh(sa.select(Post.slug).where(Post.title == "Embargoed")).scalar()
    assert client.get(f"/en/posts/{slug}").status_code == 404
    assert "Embargoed" not in client.get("/en/").get_data(as_text=True)
    assert "Scheduled" in login_as("editor").get("/admin/post/").get_data(as_text=True)
    with time_machine.travel(when.replace(tzinfo=UTC) + timedelta(seconds=1)):
        assert client.get(f"/en/posts/{slug}").status_code == 200
        assert "Embargoed" in client.get("/en/").get_data(as_text=True)


# -- bulk actions ------------------------------------------------------------------------------------
def test_publish_all_matching_rows_applies_to_the_whole_search_not_just_the_page(login_as, users):
    for n in range(60):
        make_post(users["author"], "review", title=f"Batch {n}")
    make_post(users["author"], "review", title="Unrelated")
    browser = login_as("editor")
    response = browser.post(
        "/admin/post/action/?search=Batch",
        data={"action": "publish", "rowid": "1", "select_all": "1", "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    assert "60 posts changed." in response.get_data(as_text=True)
    statuses = dict(fresh(sa.select(Post.title, Post.status)).tuples().all())
    assert statuses["Unrelated"] == "review"
    assert all(statuses[f"Batch {n}"] == "published" for n in range(60))


def test_author_select_all_cannot_reach_other_peoples_posts(login_as, users):
    make_post(users["author"], "draft", title="Mine A")
    make_post(users["editor"], "draft", title="Theirs B")
    browser = login_as("author")
    response = browser.post(
        "/admin/post/action/",
        data={"action": "review", "rowid": "1", "select_all": "1", "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    assert "1 post changed." in response.get_data(as_text=True)
    statuses = dict(fresh(sa.select(Post.title, Post.status)).tuples().all())
    assert statuses == {"Mine A": "review", "Theirs B": "draft"}


def test_bulk_delete_counts_and_refuses_live_posts_for_authors(login_as, users):
    draft = make_post(users["author"], "draft", title="Draft one")
    live = make_post(users["author"], "published", title="Live one")
    browser = login_as("author")
    response = browser.post(
        "/admin/post/action/",
        data={"action": "delete", "rowid": [draft.id, live.id], "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "1 record was deleted." in html and "Only editors with the publish permission can delete" in html
    assert [t for (t,) in fresh(sa.select(Post.title)).all()] == ["Live one"]


# -- audit log ---------------------------------------------------------------------------------------
def test_changes_are_audited_with_who_what_and_before_after(login_as, users):
    browser = login_as("editor")
    browser.submit(
        "/admin/post/new/",
        {"title": "Audited", "body": "x", "status": "draft", "locale": "en", "author": users["editor"].id},
    )
    post = fresh(sa.select(Post).where(Post.title == "Audited")).scalar_one()
    browser.edit(edit_url(post), {"title": "Audited, renamed", "status": "published"})
    browser.post("/admin/post/delete/", data={"id": post.id, "csrf_token": browser.csrf()})

    entries = fresh(sa.select(AuditLog).where(AuditLog.object_type == "Post").order_by(AuditLog.id)).scalars().all()
    assert [e.action for e in entries] == ["create", "publish", "delete"]
    assert all(e.user_id == users["editor"].id and e.ip == "127.0.0.1" for e in entries)
    changes = json.loads(entries[1].changes)
    assert changes["title"] == ["Audited", "Audited, renamed"]
    assert changes["status"] == ["draft", "published"]


def test_a_long_article_is_saved_and_its_audit_entry_keeps_the_start_of_each_text(login_as, users):
    """A body of 90,000 characters overflowed the audit entry's column on MariaDB: the save was a 500."""
    browser = login_as("editor")
    body = "word " * 18_000
    created = browser.submit("/admin/post/new/", {"title": "Long read", "body": body, "status": "draft",
                                                  "locale": "en", "author": users["editor"].id})  # fmt: skip
    assert created.status_code == 302
    post = fresh(sa.select(Post).where(Post.title == "Long read")).scalar_one()
    assert post.body == body
    browser.edit(edit_url(post), {"body": body + "more"})
    assert reload(post.id).body == body + "more"
    entry = fresh(sa.select(AuditLog).where(AuditLog.object_type == "Post").order_by(AuditLog.id.desc())).scalars()
    before, after = json.loads(next(iter(entry)).changes)["body"]
    assert before == f"{body[:2000]}… (90,000 characters)" and after == f"{body[:2000]}… (90,004 characters)"


@pytest.mark.parametrize(("length", "kept"), [(10, True), (11, False)])
def test_a_logged_text_of_audit_text_chars_is_kept_whole_and_a_longer_one_cut(monkeypatch, length, kept):
    from cms import audit

    monkeypatch.setattr(audit, "AUDIT_TEXT_CHARS", 10)
    text = "x" * length
    assert audit._logged(text) == (text if kept else f"{'x' * 10}… ({length} characters)")


def test_bulk_actions_and_logins_are_audited(login_as, users):
    post = make_post(users["author"], "review", title="Bulk")
    browser = login_as("editor")
    browser.post("/admin/post/action/", data={"action": "publish", "rowid": post.id, "csrf_token": browser.csrf()})
    actions = set(fresh(sa.select(AuditLog.action)).scalars())
    assert {"login", "bulk_published", "publish"} <= actions


def test_password_changes_are_audited_without_the_hash(login_as, users):
    target = users["administrator"]  # their own: nobody sets someone else's
    login_as("administrator").edit(f"/admin/user/edit/?id={target.id}", {"new_password": "brand-new-password"})
    [entry] = [
        entry
        for entry in fresh(
            sa.select(AuditLog).where(
                AuditLog.object_type == "User", AuditLog.object_id == str(target.id), AuditLog.action == "update"
            )
        ).scalars()
        if "password" in json.loads(entry.changes or "{}")
    ]  # (signing in also updates the account: when it was last seen)
    assert json.loads(entry.changes)["password"] == ["…", "(changed)"]
    assert "$argon2" not in entry.changes


def test_audit_log_is_read_only_for_admins(login_as, users):
    make_post(users["author"])
    admin = login_as("administrator")
    assert admin.get("/admin/audit/").status_code == 200
    assert admin.get("/admin/audit/new/").status_code == 404
    assert login_as("editor").get("/admin/audit/").status_code == 403


@pytest.mark.parametrize("ids", [[], [7], [7, 8], [7, 8, 9]], ids=["none", "one", "two", "three"])
def test_the_details_of_a_bulk_deactivation_entry_show_its_ids(login_as, users, ids):
    """ "Deactivate their authors" logs the accounts' ids, not a value before and after: opening its entry was a 500
    (and two ids would have read as a change from one to the other)."""
    from cms import audit

    audit.record("bulk_deactivate", "User", summary=f"{len(ids)} comment authors deactivated", changes={"ids": ids})
    db.session.commit()
    entry = fresh(sa.select(AuditLog.id).where(AuditLog.action == "bulk_deactivate")).scalar_one()
    response = login_as("administrator").get(f"/admin/audit/details/?id={entry}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    if ids:
        assert f'<th>ids</th><td colspan="2">{", ".join(map(str, ids))}</td>' in html


def test_audit_entry_is_rolled_back_with_a_failed_change(app, users):
    before = fresh(sa.select(sa.func.count()).select_from(AuditLog)).scalar()
    post = Post(title="Broken", slug="dup", body="", body_html="", author=users["author"])
    db.session.add(post)
    db.session.add(Post(title="Broken too", slug="dup", body="", body_html="", author=users["author"]))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert fresh(sa.select(sa.func.count()).select_from(AuditLog)).scalar() == before
