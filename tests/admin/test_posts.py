"""The posts view: the row-level rule for writers, publishing rights, and bad input."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Post, User
from tests.factories import make_post
from tests.support.database import fresh


@pytest.fixture
def two_posts(users):
    return make_post(users["author"], title="Mine"), make_post(users["editor"], title="Theirs")


def post_count(**where) -> int:
    query = sa.select(sa.func.count()).select_from(Post)
    for key, value in where.items():
        query = query.where(getattr(Post, key) == value)
    return fresh(query).scalar()


def test_author_lists_and_exports_only_own_posts(login_as, two_posts):
    browser = login_as("author")
    listing = browser.get("/admin/post/").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" not in listing
    export = browser.get("/admin/post/export/csv/").get_data(as_text=True)
    assert "Mine" in export and "Theirs" not in export


def test_editor_lists_every_post(login_as, two_posts):
    listing = login_as("editor").get("/admin/post/").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" in listing


@pytest.mark.parametrize("endpoint", ["edit", "details"])
def test_author_cannot_open_someone_elses_post(login_as, two_posts, endpoint):
    theirs = two_posts[1]
    assert login_as("author").get(f"/admin/post/{endpoint}/?id={theirs.id}").status_code == 404


def test_author_cannot_delete_someone_elses_post(login_as, two_posts):
    browser = login_as("author")
    theirs = two_posts[1]
    response = browser.post("/admin/post/delete/", data={"id": theirs.id, "csrf_token": browser.csrf()})
    assert response.status_code == 404
    assert post_count(id=theirs.id) == 1


def test_author_bulk_action_touches_only_own_posts(login_as, two_posts):
    browser = login_as("author")
    mine, theirs = two_posts
    response = browser.post(
        "/admin/post/action/",
        data={"action": "review", "rowid": [mine.id, theirs.id], "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    assert "1 post changed." in response.get_data(as_text=True)
    assert fresh(sa.select(Post.status).where(Post.id == mine.id)).scalar() == "review"
    assert fresh(sa.select(Post.status).where(Post.id == theirs.id)).scalar() == "draft"


def test_author_cannot_run_the_publish_action(login_as, two_posts):
    browser = login_as("author")
    mine = two_posts[0]
    response = browser.post(
        "/admin/post/action/", data={"action": "publish", "rowid": mine.id, "csrf_token": browser.csrf()}
    )
    assert response.status_code == 403
    assert fresh(sa.select(Post.status).where(Post.id == mine.id)).scalar() == "draft"


def test_author_form_offers_no_publish_status(login_as):
    html = login_as("author").get("/admin/post/new/").get_data(as_text=True)
    assert 'value="draft"' in html and 'value="review"' in html
    assert 'value="published"' not in html and 'value="archived"' not in html


def test_author_cannot_publish_own_post_through_the_form(login_as, users):
    browser = login_as("author")
    response = browser.submit("/admin/post/new/", {"title": "Sneaky", "body": "x", "status": "published"})
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert post_count(title="Sneaky") == 0


def test_author_creates_a_draft_owned_by_them(login_as, users):
    browser = login_as("author")
    response = browser.submit(
        "/admin/post/new/", {"title": "Hello world", "body": "**Hi** <script>x</script>", "status": "draft"}
    )
    assert response.status_code == 302
    post = fresh(sa.select(Post).where(Post.title == "Hello world")).scalar_one()
    assert post.author_id == users["author"].id
    assert post.slug == "hello-world"
    assert post.body_html == "<p><strong>Hi</strong> </p>"


def test_author_cannot_reopen_a_published_post(login_as, users):
    post = make_post(users["author"], status="published", title="Live")
    browser = login_as("author")
    response = browser.submit(f"/admin/post/edit/?id={post.id}", {"title": "Live", "body": "x", "status": "draft"})
    assert response.status_code == 200
    assert "Only editors with the publish permission" in response.get_data(as_text=True)
    assert fresh(sa.select(Post.status).where(Post.id == post.id)).scalar() == "published"


@pytest.mark.parametrize("moved_to", ["2099-01-01 00:00:00", "2001-01-01 00:00:00", ""], ids=["future", "past", "none"])
def test_author_cannot_move_a_published_posts_date(login_as, users, moved_to):
    """A date in the future takes a live post off the site as unpublishing does: PUBLISH's, as is any other move
    of a published post's date. Saving the form as it opened (the date without its fraction of a second) is fine."""
    post = make_post(users["author"], status="published", title="Live")
    browser = login_as("author")
    before = fresh(sa.select(Post.published_at).where(Post.id == post.id)).scalar()
    url = f"/admin/post/edit/?id={post.id}"
    response = browser.edit(url, {"published_at": moved_to})
    assert response.status_code == 200
    assert "Only editors with the publish permission can change a published post" in response.get_data(as_text=True)
    assert fresh(sa.select(Post.published_at).where(Post.id == post.id)).scalar() == before
    assert browser.get(f"/en/posts/{post.slug}").status_code == 200
    assert browser.edit(url, {"body": "Edited"}).status_code == 302  # the date as the form shows it
    assert fresh(sa.select(Post.body, Post.published_at).where(Post.id == post.id)).one() == ("Edited", before)


def test_an_editor_moves_a_published_posts_date(login_as, users):
    post = make_post(users["author"], status="published", title="Live")
    assert (
        login_as("editor").edit(f"/admin/post/edit/?id={post.id}", {"published_at": "2099-01-01 00:00:00"}).status_code
        == 302
    )
    assert fresh(sa.select(Post.published_at).where(Post.id == post.id)).scalar() == datetime(2099, 1, 1)


def test_editor_publishes_and_the_publish_date_is_set(login_as, users):
    browser = login_as("editor")
    response = browser.submit(
        "/admin/post/new/", {"title": "新闻 标题", "body": "正文", "status": "published", "author": users["editor"].id}
    )
    assert response.status_code == 302
    post = fresh(sa.select(Post).where(Post.title == "新闻 标题")).scalar_one()
    assert post.status == "published" and post.published_at is not None
    assert post.slug == "xin-wen-biao-ti"


def test_slugs_stay_unique(login_as, users):
    make_post(users["editor"], title="Same", slug="same")
    browser = login_as("editor")
    browser.submit("/admin/post/new/", {"title": "Same", "body": "x", "status": "draft", "author": users["editor"].id})
    assert fresh(sa.select(Post.slug).where(Post.title == "Same").order_by(Post.id)).scalars().all() == [
        "same",
        "same-2",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "x" * 300, "body": "b", "status": "draft"}, "Field cannot be longer than 255 characters"),
        ({"title": "", "body": "b", "status": "draft"}, "This field is required"),
        ({"title": "Dated", "body": "b", "status": "draft", "published_at": "not a date"}, "Not a valid datetime"),
        ({"title": "Odd", "body": "b", "status": "secret"}, "Not a valid choice"),
        (
            {"title": "Ancient", "body": "b", "status": "draft", "published_at": "0999-12-31 23:59:59"},
            "Give a year from 1000 to 9999.",
        ),
    ],
    ids=["title-too-long", "title-missing", "bad-date", "unknown-status", "year-before-1000"],
)
def test_bad_post_input_gives_a_form_error_and_no_row(login_as, users, data, message):
    before = post_count()
    response = login_as("editor").submit("/admin/post/new/", {**data, "author": users["editor"].id})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert post_count() == before


def test_the_earliest_year_is_saved_and_shown_back_as_typed(login_as, users):
    """The year 1000 is the first both databases hold: it is saved, and the edit form shows it as it was typed, so
    that saving the post again keeps it."""
    browser = login_as("editor")
    fields = {"title": "Millennium", "body": "b", "status": "draft", "author": users["editor"].id}
    browser.submit("/admin/post/new/", {**fields, "published_at": "1000-01-01 00:00:00"})
    post_id, published_at = fresh(sa.select(Post.id, Post.published_at).where(Post.title == "Millennium")).one()
    assert published_at == datetime(1000, 1, 1)
    assert browser.open_form(f"/admin/post/edit/?id={post_id}")["published_at"] == "1000-01-01 00:00:00"
    assert browser.edit(f"/admin/post/edit/?id={post_id}", {"title": "Millennium again"}).status_code == 302
    assert fresh(sa.select(Post.title, Post.published_at).where(Post.id == post_id)).one() == (
        "Millennium again",
        datetime(1000, 1, 1),
    )


def test_form_post_without_csrf_token_is_refused(login_as):
    response = login_as("editor").post("/admin/post/new/", data={"title": "No token", "status": "draft"})
    assert response.status_code == 400
    assert post_count(title="No token") == 0


@pytest.mark.parametrize("bad_id", ["99999", "abc"])
def test_unknown_post_id_is_404(login_as, bad_id):
    assert login_as("editor").get(f"/admin/post/edit/?id={bad_id}").status_code == 404


def test_the_author_picker_offers_ten_matches_at_a_time(login_as, users):
    db.session.add_all(
        User(email=f"writer{n}@example.com", username=f"writer{n:02d}", fs_uniquifier=f"writer{n}") for n in range(11)
    )
    db.session.commit()
    browser = login_as("editor")
    ten = browser.get("/admin/post/ajax/lookup/?name=author&query=writer0").get_json()
    eleven = browser.get("/admin/post/ajax/lookup/?name=author&query=writer").get_json()
    assert len(ten) == 10 and len(eleven) == 10


def test_an_author_cannot_look_up_other_users(login_as, users):
    response = login_as("author").get("/admin/post/ajax/lookup/?name=author&query=example.com")
    assert response.status_code == 403


def test_an_editor_finds_authors_by_name_never_by_email(login_as, users):
    editor = login_as("editor")
    by_email = editor.get("/admin/post/ajax/lookup/?name=author&query=example.com").get_json()
    assert by_email == []
    by_name = editor.get("/admin/post/ajax/lookup/?name=author&query=auth").get_json()
    assert [label for _, label in by_name] == ["author"]
    assert "@" not in str(by_name)


def test_a_look_up_returns_at_most_its_limit_whatever_it_asks(login_as, users):
    from cms.extensions import db
    from cms.models import User

    db.session.add_all(User(email=f"w{n}@example.com", username=f"writer{n}", fs_uniquifier=f"w{n}") for n in range(30))
    db.session.commit()
    found = login_as("editor").get("/admin/post/ajax/lookup/?name=author&query=writer&limit=100000").get_json()
    assert len(found) == 20


def test_languages_are_named_in_the_readers_language_not_by_code(login_as, users):
    post = make_post(users["author"], "published", title="Named languages")
    editor = login_as("editor")
    listing = editor.get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="zh" data-state="missing">Chinese</span>' in listing
    assert 'data-locale="en" data-state="original">English</span>' in listing
    form = editor.get(f"/admin/post/edit/?id={post.id}&lang=zh").get_data(as_text=True)
    options = form.split('id="locale"')[1].split("</select>")[0]
    assert '<option selected value="en">英语</option>' in options and '<option value="es">西班牙语</option>' in options
    details = editor.get(f"/admin/post/details/?id={post.id}&lang=es").get_data(as_text=True)
    assert "inglés" in details


@pytest.mark.parametrize("probe", [2, 0])  # 2: each term below is frequent (on Mroonga), compared on each row; 0: off
def test_the_author_filter_finds_posts_by_a_part_of_the_username_only(app, login_as, users, monkeypatch, probe):
    """ "Author … contains" matches the username, ignoring case, through the accounts' search index or, for a term
    most of the newest accounts hold, on each row: never an author's email or display name, which the index also
    holds."""
    from cms.accounts import create_user
    from tests.support.web import PASSWORD

    writers = {
        "deskHand": ("desk@example.com", "Desk Hand"),
        "nightdesk": ("night@example.com", "Night Editor"),
        "sports": ("deskhand@sports.example.com", "Deskhand Sports"),  # "desk" only in the email and the name
    }
    for username, (email, name) in writers.items():
        author = create_user(email, PASSWORD, ["Author"], username=username)
        author.name = name
        make_post(author, title=f"By {username}", slug=f"by-{username.lower()}")
    db.session.commit()
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", probe)
    monkeypatch.setitem(app.config, "SEARCH_FREQUENT_SHARE", 0.01)  # one of the newest two holds it
    editor = login_as("editor")

    def listed(text: str) -> set[str]:
        html = editor.get("/admin/post/", query_string={"flt0_author_user_username_contains": text}).get_data(
            as_text=True
        )
        return {username for username in writers if f"By {username}" in html}

    assert listed("DESK") == {"deskHand", "nightdesk"}
    assert listed("hand") == {"deskHand"}
    assert listed("example") == set()
    assert listed("Night Editor") == set()
    assert listed("nobody") == set()
