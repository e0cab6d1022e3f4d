"""The Content-Security-Policy in a real browser: the console's pages and the public site open and their scripts
work (live preview, filters, bulk actions, inline forms, confirmations, the chart, progress bars) with no
policy violation, console error or script error."""

import pytest
import sqlalchemy as sa

from cms.models import Comment, CommentStatus, PostRevision, PostStatus
from tests.factories import make_comment, make_post
from tests.support.browser import sign_in, watch_for_problems
from tests.support.database import fresh
from tests.support.routes import get_routes, make_sample_rows

pytestmark = pytest.mark.browser


@pytest.fixture
def problems(page):
    return watch_for_problems(page)


def test_the_console_scripts_work_under_the_policy(page, problems, users):
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Under policy", body="First *text*.")
    for n in range(3):
        make_comment(users["reader"], post, body=f"waiting {n}")
    sign_in(page, "administrator@example.com")

    page.goto("/admin/")
    page.wait_for_selector("#comments-chart[data-rendered='30']")

    page.goto("/admin/post/")
    page.click("text=Add Filter")
    page.click(".field-filters a.filter >> nth=0")
    page.wait_for_selector("#filter_form .filter-val")  # Flask-Admin's filter script added a filter row

    page.goto(f"/admin/post/edit/?id={post.id}")
    page.wait_for_selector("#markdown-preview em")  # the live preview, fetched by post_editor.js
    page.fill("#body", "Second **text**.")
    page.wait_for_selector("#markdown-preview strong")
    page.click("[data-inline-add]")  # data-inline-add: Flask-Admin's inline form
    page.wait_for_selector("#translations .inline-field-list .inline-field.fresh")
    page.goto(f"/admin/post/edit/?id={post.id}")
    page.click("input[type=submit].btn-primary")
    page.wait_for_selector(".alert-success")

    page.goto(f"/admin/post/revisions/?id={post.id}")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("#revisions button:has-text('Restore') >> nth=0")  # data-confirm, refused: nothing is restored
    assert dialogs == ["Restore this revision? The current text stays in the history."]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#revisions button:has-text('Restore') >> nth=-1")
    page.wait_for_selector("text=The revision was restored.")
    assert fresh(sa.select(sa.func.count()).select_from(PostRevision)).scalar() >= 2

    page.goto("/admin/comment/?flt0_status_equals=pending")
    page.check("input.action-rowtoggle")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=With selected")
    page.click("a.dropdown-item[data-action='approve']")  # data-action: Flask-Admin's bulk action
    page.wait_for_selector("text=3 comments changed.")
    approved = sa.select(sa.func.count()).select_from(Comment).where(Comment.status == CommentStatus.APPROVED)
    assert fresh(approved).scalar() == 3

    page.goto("/admin/translations/")
    width = page.eval_on_selector("#catalogs tr[data-locale='zh'] .progress-bar", "bar => bar.style.width")
    assert width == page.get_attribute("#catalogs tr[data-locale='zh'] .progress-bar", "data-percent") + "%"
    page.goto("/admin/translations/zh/?q=Staff%20console")
    entry = ".entry:has(pre.msgid:text-is('Staff console'))"  # the search finds longer messages too
    page.fill(f"{entry} textarea[name='form_0']", "员工控制台")
    page.click(f"{entry} button[type=submit]")
    page.wait_for_selector("text=Saved. Readers see the new text on their next page.")

    assert problems == []


def test_public_and_account_pages_open_under_the_policy(page, problems, users):
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Read me")
    make_comment(users["reader"], post, status="approved")
    for path in ["/en/", "/en/", f"/en/posts/{post.slug}", f"/en/posts/{post.slug}", "/zh/", "/en/authors/author",
                 "/login", "/register", "/reset", "/en/no-such-post"]:  # fmt: skip
        page.goto(path)
        assert page.locator("header.site-header").count() == 1, path
    # Public pages (cached for anonymous readers) run no script of their own, so no nonce can go stale in the cache.
    assert page.evaluate("document.scripts.length") == 0
    sign_in(page, "reader@example.com")
    page.goto(f"/en/posts/{post.slug}")
    page.fill("textarea[name=body]", "A reader's comment.")
    page.click("button:has-text('Post comment')")
    page.wait_for_load_state("load")
    page.goto("/en/profile")
    page.goto("/en/following")
    assert problems == []


def test_every_console_page_opens_without_a_violation(page, problems, app, users, login_as):
    variables, ids = make_sample_rows(users)
    client = login_as("administrator")
    pages = []
    for url in get_routes(app, variables, ids):
        if url.startswith("/admin"):
            response = client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                pages.append(url)
    assert len(pages) > 25
    sign_in(page, "administrator@example.com")
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("load")
    assert problems == []
