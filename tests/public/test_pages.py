"""Public pages under /<locale>/: only live posts, the reader's language, comments, bad input."""

import re
import unicodedata
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from cms.accounts import create_user
from cms.comments import MAX_COMMENT_LENGTH
from cms.extensions import db
from cms.models import Comment, Follow, PostTranslation, Role, User, utcnow
from cms.public.views import MAX_PAGE_SIZE, PAGE_SIZE
from cms.routing import LARGEST_INTEGER
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.web import Browserish


@pytest.fixture
def posts(users):
    author = users["author"]
    return {
        "published": make_post(author, "published", title="Out now"),
        "draft": make_post(author, "draft", title="Not yet"),
        "review": make_post(author, "review", title="Being checked"),
        "archived": make_post(author, "archived", title="Old news"),
        "scheduled": make_post(author, "published", title="Tomorrow", published_at=utcnow() + timedelta(days=1)),
    }


def translate(post, locale, title, body="Translated body"):
    db.session.add(PostTranslation(post=post, locale=locale, title=title, body=body, body_html=f"<p>{body}</p>"))
    db.session.commit()


# -- choosing the language ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [("zh-CN,zh;q=0.9", "/zh/"), ("es-MX,en;q=0.1", "/es/"), ("fr-FR", "/en/"), (None, "/en/")],
)
def test_front_door_follows_accept_language(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header} if header else {})
    assert response.status_code == 302
    assert response.location == expected
    assert "Accept-Language" in response.headers["Vary"]


def test_saved_preference_beats_the_browser(login_as, users):
    users["reader"].locale = "es"
    db.session.commit()
    response = login_as("reader").get("/", headers={"Accept-Language": "zh"})
    assert response.location == "/es/"


@pytest.mark.parametrize("url", ["/fr/", "/xx/posts/anything", "/EN/", "/../"])
def test_unknown_locale_is_404(client, url):
    assert client.get(url).status_code == 404


def test_reader_sets_preferred_language_on_profile(login_as):
    browser = login_as("reader")
    response = browser.submit("/en/profile", {"name": "Rea Der", "about_me": "I read.", "locale": "zh"})
    assert response.status_code == 302 and response.location == "/zh/profile"
    assert browser.get("/").location == "/zh/"
    bad = browser.submit("/en/profile", {"locale": "klingon"})
    assert bad.status_code == 400 and "Not a valid choice" in bad.get_data(as_text=True)


@pytest.mark.parametrize("blank", [" ", "\t", " " * 40])
def test_a_language_of_white_space_is_not_a_choice(login_as, users, blank):
    """WTForms' Optional() cleared the choice's error for white space, which was saved as the reader's language."""
    response = login_as("reader").submit("/en/profile", {"name": "", "about_me": "", "locale": blank})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    assert fresh(sa.select(User.locale).where(User.id == users["reader"].id)).scalar() is None


def test_profile_needs_sign_in(client):
    assert client.get("/en/profile").status_code == 302


# -- what is visible ---------------------------------------------------------------------------------
def test_front_page_lists_only_live_posts_newest_first(client, posts, users):
    make_post(users["author"], "published", title="Older", published_at=utcnow() - timedelta(days=3))
    html = client.get("/en/").get_data(as_text=True)
    assert html.index("Out now") < html.index("Older")
    for hidden in ("Not yet", "Being checked", "Old news", "Tomorrow"):
        assert hidden not in html


@pytest.mark.parametrize("status", ["draft", "review", "archived", "scheduled"])
def test_unpublished_posts_are_404(client, posts, status):
    assert client.get(f"/en/posts/{posts[status].slug}").status_code == 404


@pytest.mark.parametrize("page", ["0", "-3", "9999"])
def test_out_of_range_pages_are_404(client, posts, page):
    assert client.get(f"/en/?page={page}").status_code == 404


def test_non_numeric_page_falls_back_to_the_first_page(client, posts):
    response = client.get("/en/?page=abc")
    assert response.status_code == 200 and "Out now" in response.get_data(as_text=True)


def test_pagination_links_walk_the_list(client, users):
    for n in range(25):
        make_post(users["author"], "published", title=f"Story {n:02}", published_at=utcnow() - timedelta(minutes=n))
    first = client.get("/en/").get_data(as_text=True)
    assert "Story 00" in first and "Story 10" not in first and 'rel="next" href="/en/?page=2"' in first
    third = client.get("/en/?page=3").get_data(as_text=True)
    assert "Story 24" in third and 'rel="next"' not in third


@pytest.fixture
def fifty_one(users):
    for n in range(51):
        make_post(users["author"], "published", title=f"Story {n:02}", published_at=utcnow() - timedelta(minutes=n))


def stories(html: str) -> set[int]:
    return {int(n) for n in re.findall(r"Story (\d\d)", html)}


def test_a_list_page_holds_page_size_posts_and_the_next_post_starts_page_two(client, fifty_one):
    assert stories(client.get("/en/").get_data(as_text=True)) == set(range(PAGE_SIZE))
    assert min(stories(client.get("/en/?page=2").get_data(as_text=True))) == PAGE_SIZE


@pytest.mark.parametrize("per_page", [MAX_PAGE_SIZE, MAX_PAGE_SIZE + 1], ids=["at-the-cap", "one-over"])
def test_per_page_is_capped_at_max_page_size(client, fifty_one, per_page):
    response = client.get(f"/en/?per_page={per_page}")
    assert response.status_code == 200
    assert stories(response.get_data(as_text=True)) == set(range(MAX_PAGE_SIZE))


@pytest.mark.parametrize(
    ("field", "length", "status"),
    [("name", 64, 302), ("name", 65, 400), ("about_me", 2000, 302), ("about_me", 2001, 400)],
    ids=["name-64", "name-65", "about-2000", "about-2001"],
)
def test_profile_fields_take_their_longest_text_and_refuse_one_more_character(login_as, users, field, length, status):
    response = login_as("reader").submit(
        "/en/profile", {"name": "", "about_me": "", "locale": "en", field: "x" * length}
    )
    assert response.status_code == status
    saved = fresh(sa.select(getattr(User, field)).where(User.id == users["reader"].id)).scalar()
    assert (saved == "x" * length) is (status == 302)
    if status == 400:
        assert f"Field cannot be longer than {length - 1} characters." in response.get_data(as_text=True)


def test_about_me_of_2000_characters_with_line_breaks_as_browsers_send_them_is_kept(login_as, users):
    typed = "y" * 50 + ("\n" + "x" * 49) * 39  # 2,000 characters as the textarea counts them
    response = login_as("reader").submit(
        "/en/profile", {"name": "", "about_me": typed.replace("\n", "\r\n"), "locale": "en"}
    )
    assert response.status_code == 302
    assert fresh(sa.select(User.about_me).where(User.id == users["reader"].id)).scalar() == typed


@pytest.mark.parametrize(
    "name",
    ["Evil\x0bName", "Tab\there", "Line\nbreak", "Escape\x1b", "C1\x85", "Line\u2028separator", "Para\u2029graph"],
)
def test_a_name_with_control_characters_is_a_form_error(login_as, users, name):
    response = login_as("author").submit("/en/profile", {"name": name, "about_me": "", "locale": "en"})
    assert response.status_code == 400
    assert "Use letters, digits, spaces and punctuation only, on one line." in response.get_data(as_text=True)
    assert fresh(sa.select(User.name).where(User.id == users["author"].id)).scalar() != name


@pytest.mark.parametrize("name", ["   ", "\u200b\u200b", "\u3000"])
def test_a_name_that_shows_nothing_is_no_name_and_the_username_stands_for_it(login_as, client, users, posts, name):
    response = login_as("author").submit("/en/profile", {"name": name, "about_me": "", "locale": "en"})
    assert response.status_code == 302
    assert fresh(sa.select(User.name).where(User.id == users["author"].id)).scalar() is None
    users["author"].name = name  # saved before this rule, or through the console
    db.session.commit()
    page = client.get(f"/en/posts/{posts['published'].slug}").get_data(as_text=True)
    assert re.search(r">\s*author\s*<", page), "the byline shows the username"


# -- languages of content ----------------------------------------------------------------------------
def test_translation_is_shown_in_the_readers_language(client, posts):
    post = posts["published"]
    translate(post, "zh", "现已发布", "中文正文")
    html = client.get(f"/zh/posts/{post.slug}").get_data(as_text=True)
    assert "现已发布" in html and "中文正文" in html
    assert '<article lang="zh">' in html
    assert "has not been translated" not in html


def test_missing_translation_shows_the_original_with_a_notice(client, posts):
    post = posts["published"]
    html = client.get(f"/es/posts/{post.slug}").get_data(as_text=True)
    assert "Out now" in html
    assert '<html lang="es">' in html and '<article lang="en">' in html
    assert 'class="notice" lang="es"' in html


def test_hreflang_alternates_list_every_available_language(client, posts):
    post = posts["published"]
    translate(post, "es", "Ya disponible")
    html = client.get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert f'hreflang="en" href="http://localhost/en/posts/{post.slug}"' in html
    assert f'hreflang="es" href="http://localhost/es/posts/{post.slug}"' in html
    assert 'hreflang="zh"' not in html.split("</head>")[0]
    assert f'hreflang="x-default" href="http://localhost/en/posts/{post.slug}"' in html


def test_language_switcher_keeps_the_reader_on_the_same_content(client, posts):
    post = posts["published"]
    html = client.get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert f'hreflang="zh" href="/zh/posts/{post.slug}"' in html
    assert f'hreflang="es" href="/es/posts/{post.slug}"' in html
    index = client.get("/en/?page=1").get_data(as_text=True)
    assert 'href="/es/?page=1"' in index


# -- authors and follows -----------------------------------------------------------------------------
def test_author_page_shows_profile_and_live_posts(client, posts, users):
    users["author"].name = "Ada Author"
    users["author"].about_me = "Writes things."
    db.session.commit()
    html = client.get("/en/authors/author").get_data(as_text=True)
    assert "Ada Author" in html and "Writes things." in html and "Out now" in html and "Not yet" not in html
    assert client.get("/en/authors/nobody").status_code == 404


@pytest.mark.parametrize("stored", ["NFC", "NFKD"])
def test_an_authors_page_is_found_however_the_accents_of_the_username_are_sent(client, users, stored):
    """Sign-up keeps a username as Flask-Security normalises it (an e and an accent); a link typed or pasted mostly
    has the é. Either way the reader meets the author."""
    author = users["author"]
    author.username = unicodedata.normalize(stored, "josé")
    db.session.commit()
    for sent in ("José", unicodedata.normalize("NFC", "josé"), unicodedata.normalize("NFKD", "josé")):
        response = client.get(f"/en/authors/{sent}")
        assert response.status_code == 200 and "josé" in unicodedata.normalize("NFC", response.get_data(as_text=True))
    assert client.get("/en/authors/jos").status_code == 404


def test_a_post_slug_typed_otherwise_leads_to_the_post(client, users):
    """Slugs are lower case and transliterated: `Café-au-lait`, or its é sent as an e and an accent, finds
    cafe-au-lait by a permanent redirect; a draft's or an unknown slug stays a 404."""
    post = make_post(users["author"], "published", title="Café au lait", slug="cafe-au-lait")
    make_post(users["author"], "draft", title="Thé vert", slug="the-vert")
    for sent in ("Café-au-lait", unicodedata.normalize("NFKD", "café-au-lait"), "CAFE-AU-LAIT"):
        response = client.get(f"/en/posts/{sent}")
        assert response.status_code == 301 and response.headers["Location"].endswith(f"/en/posts/{post.slug}"), sent
    assert client.get("/en/posts/Thé-vert").status_code == 404
    assert client.get("/en/posts/Tea-au-lait").status_code == 404


def test_inactive_author_is_404(client, users):
    users["author"].active = False
    db.session.commit()
    assert client.get("/en/authors/author").status_code == 404


def test_reader_follows_and_unfollows_an_author(login_as, users, posts):
    browser = login_as("reader")
    page = browser.get("/en/authors/author").get_data(as_text=True)
    assert ">Follow</button>" in page and "0 followers" in page
    response = browser.post("/en/authors/author/follow", data={"csrf_token": browser.csrf()}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "You now follow author." in html and "1 follower" in html and ">Unfollow</button>" in html
    followers = browser.get("/en/authors/author/followers").get_data(as_text=True)
    assert "@reader" in followers
    assert "@author" in browser.get("/en/authors/reader/following").get_data(as_text=True)
    feed = browser.get("/en/following").get_data(as_text=True)
    assert "Out now" in feed and "Not yet" not in feed
    browser.post("/en/authors/author/unfollow", data={"csrf_token": browser.csrf()})
    assert "0 followers" in browser.get("/en/authors/author").get_data(as_text=True)


def test_an_authors_counts_are_the_accounts_the_lists_show(client, users):
    """A deactivated follower was counted ("2 followers") and not listed; the same for the accounts followed."""
    from tests.factories import make_follow

    for follower in ("reader", "editor"):
        make_follow(users[follower], users["author"])
    make_follow(users["editor"], users["moderator"])  # the editor follows the author and the moderator
    users["reader"].active = users["moderator"].active = False
    db.session.commit()
    page = client.get("/en/authors/author").get_data(as_text=True)
    listed = client.get("/en/authors/author/followers").get_data(as_text=True)
    assert "1 follower" in page and "@editor" in listed and "@reader" not in listed
    page = client.get("/en/authors/editor").get_data(as_text=True)
    listed = client.get("/en/authors/editor/following").get_data(as_text=True)
    assert "follows 1<" in page and "@author" in listed and "@moderator" not in listed


def test_following_twice_keeps_one_follow(login_as, users):
    browser = login_as("reader")
    for _ in range(2):
        browser.post("/en/authors/author/follow", data={"csrf_token": browser.csrf()})
    assert fresh(sa.select(sa.func.count()).select_from(Follow)).scalar() == 1


def test_a_follow_saved_beside_this_one_is_already_following(login_as, users):
    """Two tabs, or a double click: another request saves the same follow between this one's check and its save.
    The reader lands on the author's page, following once, where the duplicate was a 500."""
    browser = login_as("reader")
    follower, author = users["reader"].id, users["author"].id

    saved_beside: list[bool] = []

    def the_other_request(session, context, instances):
        if not saved_beside and any(isinstance(obj, Follow) for obj in session.new):
            saved_beside.append(True)
            with db.engine.begin() as other:
                other.execute(sa.insert(Follow).values(follower_id=follower, followed_id=author))

    sa.event.listen(Session, "before_flush", the_other_request)
    try:
        response = browser.post("/en/authors/author/follow", data={"csrf_token": browser.csrf()})
    finally:
        sa.event.remove(Session, "before_flush", the_other_request)
    assert saved_beside, "the other request's follow was saved between this one's check and its save"
    assert response.status_code == 302 and response.headers["Location"].endswith("/en/authors/author")
    assert fresh(sa.select(sa.func.count()).select_from(Follow)).scalar() == 1
    assert "1 follower" in browser.get("/en/authors/author").get_data(as_text=True)


def test_following_yourself_is_a_400(login_as):
    browser = login_as("author")
    response = browser.post("/en/authors/author/follow", data={"csrf_token": browser.csrf()})
    assert response.status_code == 400 and "You cannot follow yourself." in response.get_data(as_text=True)
    response = browser.post("/es/authors/author/follow", data={"csrf_token": browser.csrf()})
    assert response.status_code == 400 and "No puedes seguirte a ti mismo." in response.get_data(as_text=True)


def test_follow_needs_csrf_sign_in_and_post(login_as, client, users):
    reader = login_as("reader")
    assert reader.post("/en/authors/author/follow").status_code == 400
    assert reader.get("/en/authors/author/follow").status_code == 405
    assert client.post("/en/authors/author/follow", data={"csrf_token": client.csrf()}).status_code == 302


def test_a_wrong_method_is_a_405_page_naming_the_methods_allowed(login_as, users):
    response = login_as("reader").get("/en/authors/author/follow")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert response.mimetype == "text/html"


def test_user_without_follow_permission_is_refused(app, users):
    create_user("mute@example.com", "a-long-password", ["Moderator"])
    moderator = fresh(sa.select(Role).where(Role.name == "Moderator")).scalar_one()
    moderator.permissions = 0x08  # MODERATE only: no FOLLOW
    db.session.commit()
    browser = Browserish(app.test_client())
    browser.login("mute@example.com", "a-long-password")
    page = browser.get("/en/authors/author").get_data(as_text=True)
    assert ">Follow</button>" not in page
    assert browser.post("/en/authors/author/follow", data={"csrf_token": browser.csrf()}).status_code == 403


# -- comments ----------------------------------------------------------------------------------------
def test_post_page_shows_approved_comments_and_own_pending_ones(login_as, users, posts):
    post = posts["published"]
    make_comment(users["editor"], post, body="Approved words", status="approved")
    make_comment(users["editor"], post, body="Hidden words", status="hidden")
    make_comment(users["reader"], post, body="My pending words", status="pending")
    anonymous = login_as(None).get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert "Approved words" in anonymous and "Hidden words" not in anonymous and "My pending words" not in anonymous
    mine = login_as("reader").get(f"/en/posts/{post.slug}").get_data(as_text=True)
    assert "My pending words" in mine and "Awaiting moderation" in mine


def test_confirmed_reader_comment_starts_pending(login_as, posts):
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    response = browser.submit(url, {"body": "First! <script>alert(1)</script>"}, post_url=f"{url}/comments")
    assert response.status_code == 302
    comment = fresh(sa.select(Comment)).scalar_one()
    assert comment.status == "pending"
    assert "<script>" not in comment.body_html


def test_comments_are_published_at_once_without_premoderation(app, login_as, posts):
    app.config["COMMENTS_PREMODERATED"] = False
    try:
        browser = login_as("reader")
        url = f"/en/posts/{posts['published'].slug}"
        browser.submit(url, {"body": "Straight in"}, post_url=f"{url}/comments")
    finally:
        app.config["COMMENTS_PREMODERATED"] = True
    assert fresh(sa.select(Comment.status)).scalar() == "approved"
    assert "Straight in" in login_as(None).get(url).get_data(as_text=True)


def test_a_signed_in_user_whose_email_is_unconfirmed_cannot_comment(app, users, posts):
    browser = Browserish(app.test_client())
    browser.login(users["reader"].email)  # unconfirmed accounts cannot sign in; this one's confirmation is withdrawn
    users["reader"].confirmed_at = None
    db.session.commit()
    url = f"/en/posts/{posts['published'].slug}"
    page = browser.get(url).get_data(as_text=True)
    assert "Confirm your email address to join the conversation." in page
    response = browser.post(f"{url}/comments", data={"body": "hello", "csrf_token": browser.csrf()})
    assert response.status_code == 403
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [("x" * 5001, "Field cannot be longer than 5000 characters"), ("   ", "This field is required")],
    ids=["too-long", "blank"],
)
def test_bad_comment_is_a_form_error(login_as, posts, body, message):
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    response = browser.submit(url, {"body": body}, post_url=f"{url}/comments")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 0


def test_a_blank_comment_is_refused_in_the_readers_language_every_time(login_as, posts):
    """WTForms' own messages come from its catalog for the page's language, kept once per language
    (cms.forms.wtforms_catalog): a reader who switches back and forth gets each language's message every time."""
    browser = login_as("reader")
    slug = posts["published"].slug
    for locale, message in [
        ("es", "Este campo es obligatorio."),
        ("zh", "该字段是必填字段。"),
        ("en", "This field is required."),
        ("es", "Este campo es obligatorio."),
    ]:
        url = f"/{locale}/posts/{slug}"
        response = browser.submit(url, {"body": "   "}, post_url=f"{url}/comments")
        assert response.status_code == 400
        assert message in response.get_data(as_text=True), locale


def test_a_comment_of_max_length_is_posted_through_the_form(login_as, posts):
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    response = browser.submit(url, {"body": "x" * MAX_COMMENT_LENGTH}, post_url=f"{url}/comments")
    assert response.status_code == 302
    assert fresh(sa.select(Comment.body)).scalar_one() == "x" * MAX_COMMENT_LENGTH


@pytest.mark.parametrize(("length", "status"), [(MAX_COMMENT_LENGTH, 302), (MAX_COMMENT_LENGTH + 1, 400)])
def test_a_comment_of_max_length_with_line_breaks_as_browsers_send_them(login_as, posts, length, status):
    """The textarea's maxlength counts a line break as one character, and browsers send it as CR LF: 4,999 typed
    characters on 100 lines arrived as 5,098 and were refused."""
    browser = login_as("reader")
    url = f"/en/posts/{posts['published'].slug}"
    lines = (length - 1) // 50
    typed = "y" * (length - 50 * lines) + ("\n" + "x" * 49) * lines
    assert len(typed) == length
    response = browser.submit(url, {"body": typed.replace("\n", "\r\n")}, post_url=f"{url}/comments")
    assert response.status_code == status
    assert fresh(sa.select(Comment.body)).scalars().all() == ([typed] if status == 302 else [])


def test_a_comment_sent_from_a_page_opened_before_the_slug_changed_is_kept(login_as, posts):
    """The page's form still posts to the old address, which the post now redirects from: the comment was a 404
    and the reader's text was lost."""
    post = posts["published"]
    browser = login_as("reader")
    old = f"/en/posts/{post.slug}"
    token = browser.token_for(old)
    login_as("editor").edit(f"/admin/post/edit/?id={post.id}", {"slug": "a-new-address"})
    assert browser.get(old).status_code == 301
    response = browser.post(f"{old}/comments", data={"body": "Still here", "csrf_token": token})
    assert response.status_code == 302 and response.location.startswith("/en/posts/a-new-address#comment-")
    assert fresh(sa.select(Comment.body, Comment.post_id)).all() == [("Still here", post.id)]


def test_anonymous_comment_goes_to_login(client, posts):
    response = client.post(
        f"/en/posts/{posts['published'].slug}/comments", data={"body": "hi", "csrf_token": client.csrf()}
    )
    assert response.status_code == 302 and "/login" in response.location


def test_old_unprefixed_post_links_redirect_each_reader_to_their_language(client, posts):
    slug = posts["published"].slug
    for language in ("es", "zh", "en"):
        response = client.get(f"/posts/{slug}", headers={"Accept-Language": language})
        assert response.status_code == 302 and response.location == f"/{language}/posts/{slug}"
        assert {"Accept-Language", "Cookie"} <= set(response.vary)  # no cache keeps one reader's language for all


@pytest.mark.parametrize("path", ["/en/", "/en/authors/author", "/en/authors/author/followers"])
def test_pages_past_any_row_a_table_can_hold_are_404(client, posts, path):
    """The last page whose offset a database takes (LARGEST_INTEGER rows skipped) and the next one: both are past the
    end, a 404, where the next one reached the database and failed there (a 500)."""
    last = LARGEST_INTEGER // PAGE_SIZE + 1  # skips PAGE_SIZE * (last - 1) <= LARGEST_INTEGER rows
    for page in (last, last + 1, 10**20):
        assert client.get(f"{path}?page={page}").status_code == 404


@pytest.mark.parametrize("path", ["/en/", "/en/authors/author", "/en/authors/author/followers"])
@pytest.mark.parametrize("argument", ["page", "per_page"])
def test_a_number_too_long_for_python_to_read_is_no_500(client, posts, path, argument):
    """The page cache read every all-digit argument as a number: one of over 4,300 digits (Python's limit on reading
    one) was a 500 for any anonymous reader."""
    assert client.get(f"{path}?{argument}={'9' * 4301}").status_code in (200, 404)
