"""Accessibility, measured as the issue measured it: axe-core (bundled by axe-playwright-python) in Chromium, on every
page each kind of visitor uses. No page may have a serious or critical WCAG 2.1 A/AA violation, nor the landmark,
heading and naming findings the console used to have. The pages come from the URL map (every GET route the
visitor's test client opens as an HTML page), so a new route is measured without being named here; PAGES adds the
states the URL map cannot fill in (a filtered list, a catalog, an error page) — one line each.

And the keyboard alone does a moderator's and an author's work: filter, select all, approve; write, preview, submit
for review."""

import time
from urllib.parse import urlsplit

import polib
import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from cms.accounts import create_user
from cms.models import Comment, CommentStatus, Post, PostStatus
from tests.factories import make_comment, make_post
from tests.support.browser import enrol_authenticator, sign_in, submit_password, tab_to
from tests.support.database import fresh
from tests.support.routes import get_routes, make_sample_rows
from tests.support.web import totp_code

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
# Best-practice rules (not WCAG failures) that every page keeps passing, whatever their impact: the content is in
# landmarks, there is one <main> and one <h1>, headings do not skip levels, check boxes are named by more than a
# title, and table headers are not empty.
KEPT_BEST_PRACTICES = {"region", "landmark-one-main", "page-has-heading-one", "heading-order", "label-title-only",
                       "empty-table-header", "landmark-unique", "landmark-no-duplicate-main"}  # fmt: skip
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": [*WCAG_21_AA, "best-practice"]}, "resultTypes": ["violations"]}

# Who visits: None is a visitor who is not signed in (public and account pages), "reader" a signed-in reader (the
# public site and their own account pages); the staff roles are measured on the console pages they may open.
VISITORS = [None, "reader", "author", "editor", "moderator", "translator", "administrator"]
NOT_PAGES = ("/api/", "/logout")  # the API answers JSON; opening /logout signs the visitor out
# Pages beyond the URL map's: (visitor, path), `{slug}` filled with a published post's.
PAGES = [
    (None, "/en/no-such-post"),
    (None, "/zh/"),
    (None, "/es/posts/{slug}"),
    (None, "/login?next=/admin/"),
    ("reader", "/en/posts/{slug}"),
    ("moderator", "/admin/comment/?flt0_status_equals=pending"),
    ("moderator", "/admin/comment/?flt0_status_equals=approved"),
    ("translator", "/admin/translations/zh/"),
    ("translator", "/admin/translations/zh/?state=untranslated"),
    ("translator", "/admin/translations/es/?q=Staff%20console"),
    ("editor", "/admin/post/?flt0_status_equals=review"),
]
# Pages the URL map must yield for a visitor (so that a change to get_routes cannot quietly measure less).
MUST_INCLUDE = {
    None: {"/en/", "/en/authors/author", "/login", "/register", "/reset", "/confirm"},
    "reader": {"/en/profile", "/en/following", "/change", "/tf-setup", "/mf-recovery-codes"},
    "author": {"/admin/", "/admin/post/", "/admin/post/new/", "/admin/media/"},
    "moderator": {"/admin/comment/", "/admin/blockedword/", "/admin/comment/exports/"},
    "translator": {"/admin/translations/", "/admin/translations/content/"},
    "administrator": {"/admin/user/", "/admin/user/new/", "/admin/role/", "/admin/audit/", "/admin/user-import/"},
}


def pages_of(app, login_as, visitor, variables, ids) -> list[str]:
    """Every page of the URL map `visitor` opens as HTML (staff: in the console), then PAGES' for `visitor`."""
    client = login_as(visitor)
    found = []
    for url in get_routes(app, variables, ids):
        if url.startswith("/admin") != (visitor not in (None, "reader")) or url.startswith(NOT_PAGES):
            continue
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            found.append(url)
    return found + [path.format(**variables) for who, path in PAGES if who == visitor]


def findings(page, axe: Axe) -> list[str]:
    """The violations the page may not have, one line each with the elements concerned. Measured once the page has
    loaded: a page reached by a click has its elements before its stylesheets, and text measured without them has
    the browser's colours, not the console's."""
    page.wait_for_load_state("load")
    lines = []
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        wcag = any(tag in WCAG_21_AA for tag in violation["tags"])
        if (wcag and violation["impact"] in BLOCKING_IMPACTS) or violation["id"] in KEPT_BEST_PRACTICES:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            lines.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}×): {targets}")
    return lines


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_page_a_visitor_uses_has_no_serious_accessibility_violation(page, app, users, login_as, visitor):
    variables, ids = make_sample_rows(users)
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Read me")
    make_comment(users["reader"], post, status="approved")
    make_comment(users["reader"], post, body="Waiting.")
    urls = pages_of(app, login_as, visitor, variables, ids)
    assert MUST_INCLUDE.get(visitor, set()) <= set(urls), urls
    if visitor:
        sign_in(page, f"{visitor}@example.com")
    axe = Axe()
    problems = {}
    for url in urls:
        page.goto(url)
        found = findings(page, axe)
        if found:
            problems[url] = found
    assert problems == {}, "\n".join(f"{url}\n  " + "\n  ".join(lines) for url, lines in problems.items())


def test_a_moderator_filters_selects_all_and_approves_with_the_keyboard_alone(page, app, users):
    page_size = app.config["ADMIN_PAGE_SIZE"]
    post = make_post(users["author"], PostStatus.PUBLISHED)
    for n in range(page_size + 5):
        make_comment(users["reader"], post, body=f"Queued {n}.")
    make_comment(users["reader"], post, body="Already approved.", status=CommentStatus.APPROVED)
    sign_in(page, "moderator@example.com")
    page.goto("/admin/comment/")

    assert tab_to(page, "a.skip-link") == 1, "the skip link comes first"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_to(page, "#status-tabs a[href*='flt0_status_equals=pending']")  # filter: the pending comments
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/comment/?*flt0_status_equals=pending*")
    assert page.get_attribute("#status-tabs a[aria-current=page]", "href").endswith("flt0_status_equals=pending")

    tab_to(page, "input.action-checkbox")
    assert page.get_attribute(":focus", "aria-label").startswith("Select “Queued")
    assert tab_to(page, "input.action-checkbox") <= 3, "a row takes at most three Tab stops"
    tab_to(page, "input.action-rowtoggle", backwards=True)  # select all: the whole page …
    page.keyboard.press("Space")
    assert page.locator("input.action-checkbox:checked").count() == page_size
    page.wait_for_selector("#select-all-matching", state="visible")  # the banner shows once every box is checked
    tab_to(page, "#select-all-matching", backwards=True)  # … then every matching comment (above the list)
    page.keyboard.press("Enter")
    assert page.is_visible("#select-all-chosen")

    tab_to(page, "#with-selected", backwards=True)
    page.keyboard.press("Enter")
    tab_to(page, "a.dropdown-item[data-action=approve]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text={page_size + 5} comments changed.")
    approved = sa.select(sa.func.count()).select_from(Comment).where(Comment.status == CommentStatus.APPROVED)
    assert fresh(approved).scalar() == page_size + 6


def test_an_author_writes_previews_and_submits_a_post_with_the_keyboard_alone(page, users):
    sign_in(page, "author@example.com")
    page.goto("/admin/post/new/")

    tab_to(page, "#title")
    page.keyboard.type("Written by keyboard")
    tab_to(page, "#slug")
    page.keyboard.type("written-by-keyboard")
    tab_to(page, "#body")
    page.keyboard.type("A **bold** claim.")
    page.wait_for_selector("#markdown-preview strong")  # the preview, read out as it changes (aria-live)
    assert page.inner_text("#markdown-preview strong") == "bold"
    assert page.get_attribute("#markdown-preview", "aria-live") == "polite"

    tab_to(page, "#s2id_status input.select2-focusser, #status")  # submit: for review
    page.keyboard.press("ArrowDown")
    page.keyboard.type("In review")
    page.keyboard.press("Enter")
    tab_to(page, "input[type=submit][value=Save]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".alert-success")
    saved = fresh(sa.select(Post.title, Post.status, Post.body).where(Post.author_id == users["author"].id)).one()
    assert tuple(saved) == ("Written by keyboard", PostStatus.REVIEW, "A **bold** claim.")


def test_the_two_factor_steps_have_no_serious_accessibility_violation(page, app):
    """The account pages a new editor goes through, in the states the URL map cannot reach: setting up the
    authenticator (its QR code shown), the recovery codes shown once, and the code asked at the next sign-in."""
    create_user("new.editor@example.com", "a-long-password", ["Editor"])
    axe = Axe()
    problems = {}

    def measure(state: str) -> None:
        found = findings(page, axe)
        if found:
            problems[state] = found

    key = enrol_authenticator(page, "new.editor@example.com", "a-long-password", at=measure)

    page.context.clear_cookies()
    submit_password(page, "new.editor@example.com", "a-long-password")
    assert urlsplit(page.url).path == "/tf-validate"
    measure("/tf-validate")
    # A code the authenticator shows at no moment within ten minutes: a fixed "000000" is right once in a while.
    shown = {totp_code(key, time.time() + step * 30) for step in range(-10, 11)}
    page.fill("#code", next(code for code in ("000000", "111111", "222222") if code not in shown))
    page.click("form[name=two_factor_verify_code_form] [type=submit]")
    page.wait_for_selector(".fs-error-msg")
    measure("/tf-validate, wrong code")
    assert problems == {}, problems


def test_a_catalog_upload_report_has_no_serious_accessibility_violation(page, users, login_as):
    upload = polib.pofile(login_as("translator").get("/admin/translations/es/download").get_data(as_text=True))
    next(entry for entry in upload if entry.msgid == "Newer").msgstr = "Más nuevos"
    next(e for e in upload if "%(" in e.msgid and not e.msgid_plural).msgstr = "sin marcador"  # a problem
    sign_in(page, "translator@example.com")
    page.goto("/admin/translations/es/")
    page.set_input_files(
        "#po-file", files=[{"name": "es.po", "mimeType": "text/plain", "buffer": str(upload).encode()}]
    )
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#upload-problems")
    assert findings(page, Axe()) == []
