"""Stored cross-site scripting, in Chromium: the payloads of test_xss.py stored through the product's forms,
then every kind of page that shows them opened in a real browser, one browser session per kind of page, with
the canary `window.__xss` still unset after the page loaded and after hovering, focusing and clicking every
element that carries a payload."""

from urllib.parse import quote

import pytest

from cms.extensions import db
from cms.models import utcnow
from cms.posts import add_revision
from tests.factories import make_follow, make_post
from tests.security import plant
from tests.security.xss import VECTORS, fitting, one_line, payload_ran, read_page, visit
from tests.support.browser import serve, sign_in

pytestmark = pytest.mark.browser

# Where each vector must run when a page puts it in raw (in the body, or into an attribute without escaping):
# the proof that the canary sees a payload that runs. The others are filter evasions whose effect is on
# filters (nested, split or encoded tags) or that this Chromium refuses whatever the page does (data: and
# script URLs in <object>, <meta refresh> and top-level data: links).
PAGES_THAT_RUN_THEM = {
    "raw": "<p>{}</p>",
    "a double-quoted attribute": '<input value="{}">',
    "a single-quoted attribute": "<input value='{}'>",
    "an unquoted attribute": "<input value={}>",
}
INERT_IN_CHROMIUM = {
    '<a href="data:text/html,<script>parent.__xss=1</script>">a5</a>',
    "<object data=javascript:parent.__xss=1>",
    "<meta http-equiv=refresh content='0;url=javascript:window.__xss=1'>",
    "<math><a xlink:href=javascript:window.__xss=1>m</a></math>",
    "x style=animation-name:spinner-border onanimationstart=window.__xss=1 y",  # needs the console's keyframes
    "<<script>script>window.__xss=1<</script>/script>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "{{7*7}}{{constructor.constructor('window.__xss=1')()}}",
    "[a6](javascript:window.__xss=1)",
    '![a7](x" onerror="window.__xss=1)',
    "＜script＞top.__xss=1＜/script＞",
}


def session(browser_engine, base_url: str, email: str | None = None):
    """A new browser session (its own cookies), signed in as `email` when given."""
    context = browser_engine.new_context(base_url=base_url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    if email:
        sign_in(page, email)
    return context, page


def test_the_canary_sees_every_vector_run_when_a_page_does_not_escape_it(browser_engine):
    context = browser_engine.new_context()
    page = context.new_page()
    served = {}
    page.route(
        "http://unescaped.test/", lambda route, request: route.fulfill(content_type="text/html", body=served["html"])
    )
    silent = []
    for vector in VECTORS:
        for template in PAGES_THAT_RUN_THEM.values():
            served["html"] = template.format(vector)
            page.goto("http://unescaped.test/")
            if payload_ran(page):
                break
        else:
            silent.append(vector)
    context.close()
    assert set(silent) == INERT_IN_CHROMIUM


def test_no_stored_payload_runs_on_any_page_that_shows_it(app, users, login_as, browser_engine, live_server):
    editor, admin, moderator = login_as("editor"), login_as("administrator"), login_as("moderator")
    names = one_line(fitting(64))
    people = plant.renamed(plant.users(admin, [f"person{n}" for n in range(len(names))], names), names)
    images = plant.media(editor, [f"{vector}.png" for vector in VECTORS])
    authors = [people[number % len(people)] for number in range(len(VECTORS))]
    posts = plant.posts(editor, users["editor"], VECTORS, VECTORS, authors=authors,
                        images=[images[number % len(images)] for number in range(len(VECTORS))])  # fmt: skip
    for person in people:
        make_follow(person, users["editor"])
    plant.blocked_words(moderator, fitting(100))
    plant.comments(login_as("reader"), posts[0], VECTORS)  # held: each contains a blocked word

    found = visit_all(
        browser_engine,
        live_server,
        "moderator@example.com",
        ["/admin/comment/?flt0_status_equals=pending&page_size=50"],
    )  # the held comments, their reasons
    plant.approve_all(moderator)
    for post in posts:  # the original changes after its zh translation was marked current: the workspace diffs it
        post.title, post.body, post.content_changed_at = f"{post.title} now", f"Now {post.body}", utcnow()
    db.session.commit()
    kinds = {
        "console lists": ("administrator@example.com", [
            f"/admin/{view}/?page_size=50" for view in ("post", "comment", "user", "media", "blockedword", "follow",
                                                         "audit")
        ] + ["/admin/translations/content/"]),
        # The original beside its translation, and the original's changes since it was marked current.
        "translation workspace": ("administrator@example.com", [
            f"/admin/translations/content/{post.id}/{locale}/" for post in posts for locale in ("zh", "es")]),
        "calendar and dashboard": ("administrator@example.com", ["/admin/calendar/", "/admin/"]),
        # The post form holds a title, a body, a translation and, in its pickers, a username and an image name.
        "console forms": ("administrator@example.com", [f"/admin/post/edit/?id={post.id}" for post in posts]),
        "public post pages": (None, [f"/{locale}/posts/{post.slug}" for post in posts for locale in ("en", "zh")]),
        "public lists": (None, ["/en/?per_page=50", "/zh/?per_page=50", "/en/authors/editor/followers?per_page=50"]
                         + [f"/en/authors/{quote(p.username, safe='')}" for p in people if "/" not in p.username]),
    }  # fmt: skip
    for email, urls in kinds.values():
        found += visit_all(browser_engine, live_server, email, urls)
    assert not found, f"{len(found)} pages ran a payload: {found}"


def visit_all(browser_engine, base_url: str, email: str | None, urls: list[str]) -> list[str]:
    """One browser session (signed in as `email`) opens each of `urls`: the pages where a payload ran."""
    context, page = session(browser_engine, base_url, email)
    try:
        return [problem for url in urls if (problem := visit(page, url))]
    finally:
        context.close()


def test_no_translated_string_runs_in_the_browser(translated, users, browser_engine):
    """Translations that are text (the catalog check refuses markup) in every context a message is shown in:
    each round gives every message another vector through a .po upload, then the pages in Chinese are opened,
    the revision's Restore button pressed (its confirmation carries a translated string)."""
    texts = [vector for vector in VECTORS if not read_page(vector).tags]
    contexts = ["Your comment", "Posts", "Title", "Restore this revision? The current text stays in the history.",
                "Language", "Latest posts", "Newsroom", "Sign out"]  # fmt: skip
    post = make_post(users["author"], "published", title="Translated around")
    draft = make_post(users["author"], "draft", title="Revised")
    add_revision(draft, users["author"])
    db.session.commit()
    translator = translated.client("translator")
    found = []
    with serve(translated) as base_url:
        reader, reader_page = session(browser_engine, base_url, "reader@example.com")
        admin, admin_page = session(browser_engine, base_url, "administrator@example.com")
        for shift in range(len(texts)):
            round_texts = {msgid: texts[(shift + n) % len(texts)] for n, msgid in enumerate(contexts)}
            _, token = plant.po_upload(translator, "zh", round_texts)
            assert token, round_texts
            plant.apply_upload(translator, "zh", token)
            found += [problem for url in ("/zh/", f"/zh/posts/{post.slug}") if (problem := visit(reader_page, url))]
            found += [problem for url in ("/admin/post/?lang=zh",) if (problem := visit(admin_page, url))]
            if problem := visit(admin_page, f"/admin/post/revisions/?id={draft.id}&lang=zh"):
                found.append(problem)
            admin_page.once("dialog", lambda dialog: dialog.dismiss())
            admin_page.click("button[form^=restore-]")
            if ran := payload_ran(admin_page):
                found.append(f"the revision's Restore confirmation: a payload ran {ran}")
        reader.close()
        admin.close()
    assert not found, found
