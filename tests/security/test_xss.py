"""Stored cross-site scripting, read in the HTML: every vector (tests/security/xss.py) stored through the
product's own forms in every text field a user can fill, then every page that shows the field fetched. Each
plain-text value must be on the page as text, and nothing on any page may carry a payload that could run
(script, event handler, script URL). Rich text (post and comment bodies) is sanitised: there only the second
holds. test_xss_browser.py loads the same pages in Chromium."""

import io
from urllib.parse import quote

import polib
import sqlalchemy as sa

from cms.domain import folded
from cms.extensions import db
from cms.models import Comment, CommentStatus, Post, User
from cms.posts import add_revision
from tests.factories import make_comment, make_follow, make_post
from tests.security import plant
from tests.security.routes import requests_for
from tests.security.xss import VECTORS, assert_inert, fitting, offences, one_line, read_page, shown_as_text
from tests.support.catalogs import entry_page
from tests.support.database import fresh
from tests.support.web import PASSWORD, Browserish

# Messages shown in different places of the interface, translated by the catalog tests: plain text in a page,
# text in an attribute, the page's <title>, a lazy string in a form label, the console's menu and list columns,
# and text inside a JSON string inside an attribute.
CATALOG_CONTEXTS = [
    "Your comment",
    "Posts",
    "Title",
    "Restore this revision? The current text stays in the history.",
    "Create these accounts?",
    "Language",
    "Latest posts",
    "Newsroom",
    "Sign out",
]
SCRIPT_STRING_CONTEXTS = {"Restore this revision? The current text stays in the history.", "Create these accounts?"}
# A vector is markup when a tokenizer finds a tag in it; the catalog check must refuse those and take the rest.
MARKUP_VECTORS = [vector for vector in VECTORS if read_page(vector).tags]
TEXT_VECTORS = [vector for vector in VECTORS if not read_page(vector).tags]


def check(browser, url: str, shown=(), status: int = 200) -> str:
    """Fetch `url`: it answers `status`, shows each of `shown` as text and nothing that could run."""
    response = browser.get(url)
    assert response.status_code == status, (url, response.status_code)
    html = response.get_data(as_text=True)
    assert_inert(html, url, list(shown))
    return html


def test_post_titles_bodies_and_translations(users, login_as):
    editor, admin, anonymous = login_as("editor"), login_as("administrator"), login_as(None)
    posts = plant.posts(editor, users["editor"], VECTORS, VECTORS)
    assert [post.title for post in posts] == VECTORS, "titles are stored as typed"
    for locale in ("en", "zh"):
        check(anonymous, f"/{locale}/?per_page=50", VECTORS)
    check(editor, "/admin/post/?page_size=50", VECTORS)
    check(admin, "/admin/translations/content/", VECTORS)  # none of them is in Spanish yet
    for post in posts:
        check(anonymous, f"/en/posts/{post.slug}", [post.title])
        check(anonymous, f"/zh/posts/{post.slug}", [post.title])  # the translation's title, the same vector
        check(editor, f"/admin/post/edit/?id={post.id}", [post.title, post.body])  # and the inline translation
        check(editor, f"/admin/post/details/?id={post.id}", [post.title])
        check(editor, f"/admin/post/revisions/?id={post.id}", [post.title])
    token = editor.csrf()
    for vector in VECTORS:
        preview = editor.post("/admin/post/preview/", data={"body": vector, "csrf_token": token})
        assert not offences(preview.get_json()["html"]), vector


def test_translation_workspace_and_the_originals_changes(users, login_as):
    """Every vector as a translation typed in the workspace, then as the original's new text: the workspace shows
    the translation in its form, the original as text and the original's changes as a diff, none of it live."""
    editor, translator = login_as("editor"), login_as("translator")
    posts = plant.posts(editor, users["editor"], VECTORS, VECTORS, translated=False)
    for post, vector in zip(posts, VECTORS, strict=True):
        url = f"/admin/translations/content/{post.id}/es/"
        form = {**translator.open_form(url), "title": vector, "body": vector, "action": "current"}
        assert translator.post(url, data=form).status_code == 302, vector
        changed = {"title": f"{vector[:200]} now", "body": f"Now {vector}\n{vector}"}
        assert editor.edit(f"/admin/post/edit/?id={post.id}", changed).status_code == 302, vector
        html = check(translator, url, [vector, changed["title"]])
        assert "<ins>" in html or "<del>" in html, vector
    check(translator, "/admin/translations/content/", [f"{vector[:200]} now" for vector in VECTORS])


def test_comment_bodies_in_the_queue_and_on_the_post(users, login_as):
    post = make_post(users["editor"], "published", title="Commented")
    reader, moderator, anonymous = login_as("reader"), login_as("moderator"), login_as(None)
    comments = plant.comments(reader, post, VECTORS)
    assert [comment.body for comment in comments] == [f"{vector} seen".strip() for vector in VECTORS]
    queue = check(moderator, "/admin/comment/?flt0_status_equals=pending&page_size=50")
    assert queue.count('name="rowid"') == len(VECTORS), "every comment is in the queue"
    check(reader, f"/en/posts/{post.slug}")  # their own comments, awaiting moderation
    for comment in comments:
        check(moderator, f"/admin/comment/details/?id={comment.id}")
        check(moderator, f"/admin/comment/edit/?id={comment.id}")
    plant.approve_all(moderator)
    html = check(anonymous, f"/en/posts/{post.slug}")
    assert html.count('class="comment"') == len(VECTORS), "every comment is shown"
    check(moderator, "/admin/comment/?page_size=50")
    check(moderator, "/admin/")


def give_them_posts_and_comments(people: list[User], users) -> Post:
    """Each person follows the editor, writes a post and comments on the editor's post, which is returned."""
    commented = make_post(users["editor"], "published", title="Where they comment")
    for person in people:
        make_follow(person, users["editor"])
        make_post(person, "published", title=f"By person {person.id}")
        make_comment(person, commented, status=CommentStatus.APPROVED)
    return commented


def check_public_people(login_as, people: list[User], editor: User, commented: Post) -> None:
    """The public pages that show people: followers, front page, comments, their author pages."""
    usernames = [person.username for person in people]
    names = [person.display_name for person in people]
    anonymous = login_as(None)
    check(anonymous, f"/en/authors/{editor.username}/followers?per_page=50", usernames + names)
    check(anonymous, "/en/?per_page=50", names)
    check(anonymous, f"/en/posts/{commented.slug}", names)
    for person in people:
        author_page = f"/en/authors/{quote(person.username, safe='')}"
        if "/" in person.username:  # not a path segment: the author link answers 404; the person shows elsewhere
            assert anonymous.get(author_page).status_code == 404
        else:
            check(anonymous, author_page, [person.username, person.display_name, *filter(None, [person.about_me])])


def test_usernames_and_display_names_from_the_console_user_form(users, login_as):
    values = one_line(fitting(64))
    admin = login_as("administrator")
    # The console refuses most of these as usernames now (tests/admin/test_users.py); accounts made before it did
    # keep theirs.
    people = plant.renamed(plant.users(admin, [f"person{n}" for n in range(len(values))], values), values)
    assert [person.name for person in people] == values
    check_public_people(login_as, people, users["editor"], give_them_posts_and_comments(people, users))
    usernames = [person.username for person in people]
    check(admin, "/admin/user/?page_size=50", usernames + values)
    check(admin, "/admin/follow/?page_size=50", usernames)
    check(admin, "/admin/post/?page_size=50", usernames)
    check(admin, "/admin/comment/?page_size=50", usernames)
    check(admin, "/admin/audit/?page_size=50")
    for person in people:
        check(admin, f"/admin/user/edit/?id={person.id}", [person.username, person.name])
        check(admin, f"/admin/user/details/?id={person.id}", [person.username, person.name])


def test_display_names_and_about_me_from_the_profile_form(app, users, login_as):
    assert one_line(fitting(64)) != fitting(64), "some vectors are refused as names: tests/public/test_pages.py"
    values = one_line(fitting(64))
    people = plant.users(login_as("administrator"), [f"person{n}" for n in range(len(values))], [""] * len(values))
    for person, name in zip(people, values, strict=True):
        browser = Browserish(app.test_client())
        browser.login(person.email)
        form = {**browser.open_form("/en/profile"), "name": name, "about_me": name}
        assert browser.post("/en/profile", data=form).status_code == 302, name
        check(browser, "/en/profile", [name])  # the header names who is signed in; the form holds the name
    people = fresh(sa.select(User).where(User.id.in_([p.id for p in people])).order_by(User.id)).scalars().all()
    assert [person.name for person in people] == [person.about_me for person in people] == values
    check_public_people(login_as, people, users["editor"], give_them_posts_and_comments(people, users))


def test_registration_refuses_usernames_that_are_not_letters_and_numbers(app, login_as):
    for number, vector in enumerate(fitting(64)):
        browser = Browserish(app.test_client())
        data = {"email": f"new{number}@example.com", "username": vector, "password": PASSWORD,
                "password_confirm": PASSWORD}  # fmt: skip
        response = browser.submit("/register", data)
        assert response.status_code == 200, (vector, response.status_code)
        html = response.get_data(as_text=True)
        assert "Username can contain only letters and numbers" in html or "not valid for the field" in html, vector
        assert_inert(html, f"/register with {vector!r}")
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email.like("new%"))).scalar() == 0


def test_blocked_words_and_the_hold_reasons_that_name_them(users, login_as):
    moderator = login_as("moderator")
    words = plant.blocked_words(moderator, fitting(100))
    stored = [word.word for word in words]
    assert stored == [folded(vector).strip() for vector in fitting(100)], "stored folded, as they are matched"
    check(moderator, "/admin/blockedword/?page_size=50", stored)
    for word in words:
        check(moderator, f"/admin/blockedword/edit/?id={word.id}", [word.word])
    post = make_post(users["editor"], "published")
    held = plant.comments(login_as("reader"), post, fitting(100))
    reasons = sorted({comment.held_reason for comment in held})
    assert all(reason.startswith("blocked word: ") for reason in reasons)
    check(moderator, "/admin/comment/?flt0_status_equals=pending&page_size=50", [f"held: {r}" for r in reasons])


def test_a_hide_reason_outside_the_list_is_refused(users, login_as):
    comment = make_comment(users["reader"], make_post(users["editor"], "published"))
    moderator = login_as("moderator")
    form = moderator.open_form(f"/admin/comment/edit/?id={comment.id}")
    for vector in VECTORS:
        response = moderator.post(
            f"/admin/comment/edit/?id={comment.id}", data={**form, "status": "hidden", "hidden_reason": vector}
        )
        assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True), vector
        assert_inert(response.get_data(as_text=True), f"comment edit with {vector!r}")
    stored = fresh(sa.select(Comment.status, Comment.hidden_reason).where(Comment.id == comment.id)).one()
    assert tuple(stored) == ("pending", None)
    refused = moderator.post(
        "/admin/comment/action/",
        data={"action": VECTORS[0], "rowid": comment.id, "csrf_token": moderator.csrf()},
    )
    assert refused.status_code == 400, "an action (and so a hide reason) outside the list is unknown"


def test_media_names_in_the_library_and_on_the_posts_they_illustrate(users, login_as):
    editor = login_as("editor")
    images = plant.media(editor, [f"{vector}.png" for vector in VECTORS])
    names = [image.original_name for image in images]
    assert len(images) >= len(VECTORS) // 2, f"most names are stored: {names}"
    check(editor, "/admin/media/?page_size=50", names)
    picker = editor.get("/admin/media/picker/")
    assert picker.mimetype == "application/json" and picker.headers["X-Content-Type-Options"] == "nosniff"
    assert {item["name"] for item in picker.get_json()["items"]} >= set(names)
    posts = plant.posts(editor, users["editor"], [f"Illustrated {n}" for n in range(len(images))],
                        ["Body"] * len(images), translated=False, images=images)  # fmt: skip
    for image, post in zip(images, posts, strict=True):
        check(editor, f"/admin/media/details/?id={image.id}", [image.original_name])
        check(login_as(None), f"/en/posts/{post.slug}", [image.original_name])  # the featured image's alt text
        check(editor, f"/admin/post/edit/?id={post.id}")


def catalog_pages(translated, users) -> dict:
    """The pages where the CATALOG_CONTEXTS messages are shown in Chinese, each as a request to fetch it."""
    post = make_post(users["author"], "published", title="Translated around")
    draft = make_post(users["author"], "draft", title="Revised")
    add_revision(draft, users["author"])
    db.session.commit()
    anonymous, reader, admin = translated.client(None), translated.client("reader"), translated.client("administrator")
    accounts = b"email,username,name,roles,locale,password\nnew.one@example.com,newone,New One,Reader,zh,\n"
    return {
        "/zh/": lambda: anonymous.get("/zh/"),
        f"/zh/posts/{post.slug}": lambda: reader.get(f"/zh/posts/{post.slug}"),
        "/admin/post/?lang=zh": lambda: admin.get("/admin/post/?lang=zh"),
        "the revisions": lambda: admin.get(f"/admin/post/revisions/?id={draft.id}&lang=zh"),
        "the account import's dry run": lambda: admin.post(
            "/admin/user-import/?lang=zh",
            data={"csrf_token": admin.csrf(), "file": (io.BytesIO(accounts), "people.csv")},
            content_type="multipart/form-data",
        ),
    }


def check_translated_pages(pages: dict, texts: list[str]) -> None:
    """Each page in Chinese: no payload can run from it, and each of `texts` is shown as text on one of them
    (the confirmations are inside script strings: only the first holds there)."""
    missing = set(texts)
    for name, fetch in pages.items():
        response = fetch()
        assert response.status_code == 200, (name, response.status_code)
        html = response.get_data(as_text=True)
        assert_inert(html, name)
        missing -= {text for text in texts if shown_as_text(html, text)}
    assert not missing, f"not shown as text: {missing}"


def test_catalog_entries_with_markup_are_refused_and_text_is_escaped_on_every_page(translated, users):
    translator = translated.client("translator")
    assert len(TEXT_VECTORS) >= len(CATALOG_CONTEXTS) and MARKUP_VECTORS, "both kinds are tried"
    for number, vector in enumerate(MARKUP_VECTORS):
        msgid = CATALOG_CONTEXTS[number % len(CATALOG_CONTEXTS)]
        response = plant.catalog_entry(translator, "zh", msgid, vector)
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and "the HTML markup must be exactly the original" in html, vector
        assert_inert(html, f"the refused entry {vector!r}", [vector])  # what was typed, kept as text
    pages = catalog_pages(translated, users)
    for number, vector in enumerate(TEXT_VECTORS):
        msgid = CATALOG_CONTEXTS[number % len(CATALOG_CONTEXTS)]
        response = plant.catalog_entry(translator, "zh", msgid, vector)
        assert response.status_code == 302, (vector, response.get_data(as_text=True)[:500])
        assert_inert(entry_page(translator, "zh", msgid), f"the workspace's {msgid!r}", [vector])
        check_translated_pages(pages, [] if msgid in SCRIPT_STRING_CONTEXTS else [vector])


def test_po_uploads_with_markup_are_refused_and_text_is_escaped_on_every_page(translated, users):
    translator = translated.client("translator")
    catalog = polib.pofile(translator.get("/admin/translations/zh/download").get_data(as_text=True))
    simple = [entry.msgid for entry in catalog if not entry.msgid_plural and not set("%{}") & set(entry.msgid)]
    targets = [*CATALOG_CONTEXTS, *(msgid for msgid in simple if msgid not in CATALOG_CONTEXTS)]
    refused = dict(zip(targets, MARKUP_VECTORS, strict=False))
    preview, token = plant.po_upload(translator, "zh", refused)
    html = preview.get_data(as_text=True)
    assert token is None and f"0 messages would change; {len(MARKUP_VECTORS)} have problems" in html
    assert_inert(html, "the refused upload's preview")
    pages = catalog_pages(translated, users)
    for shift in range(len(TEXT_VECTORS)):
        texts = {msgid: TEXT_VECTORS[(shift + n) % len(TEXT_VECTORS)] for n, msgid in enumerate(CATALOG_CONTEXTS)}
        preview, token = plant.po_upload(translator, "zh", texts)
        assert token, preview.get_data(as_text=True)[:1000]
        assert_inert(preview.get_data(as_text=True), "the upload's preview", list(texts.values()))
        plant.apply_upload(translator, "zh", token)
        check_translated_pages(pages, [text for msgid, text in texts.items() if msgid not in SCRIPT_STRING_CONTEXTS])


SESSION_ENDERS = {"security.confirm_email"}  # its link signs the account in, ending the administrator's session
REFLECTED = ['"><svg onload=window.__xss=1>', "</script><svg onload=window.__xss=1>", "javascript:window.__xss=1",
             "' onfocus='window.__xss=1' autofocus x='"]  # fmt: skip
QUERY_NAMES = ["q", "search", "next", "url", "lang", "page", "sort", "flt0_status_equals", "flt0_post_title_contains"]


def test_query_strings_are_never_reflected_as_markup(app, rows, login_as):
    """Reflected XSS: every page of the URL map opened with each payload in the query-string names the app and
    its libraries read (search boxes, filters, redirect targets, language), as an administrator."""
    admin = login_as("administrator")
    requests = [r for r in requests_for(app, rows) if r.method == "GET" and r.endpoint not in SESSION_ENDERS]
    for request in requests:
        for vector in REFLECTED:
            response = admin.get(request.url, query_string={**request.query, **dict.fromkeys(QUERY_NAMES, vector)})
            if response.mimetype == "text/html":
                assert not offences(response.get_data(as_text=True)), (request.url, vector)
