"""Who may open which staff console endpoint: every role (and anonymous) against every endpoint."""

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import AuditLog, Comment, Follow, Media, Post, Role, User
from tests.factories import make_comment, make_follow, make_post
from tests.support.database import fresh

ROLES = [None, "reader", "author", "editor", "moderator", "translator", "administrator"]
ALLOWED = {
    "post": {"author", "editor", "administrator"},
    "comment": {"moderator", "administrator"},
    "user": {"administrator"},
    "role": {"administrator"},
    "follow": {"administrator"},
    "media": {"author", "editor", "administrator"},
    "audit": {"administrator"},
}
# What a permitted user gets where the view does not offer the endpoint at all.
NOT_OFFERED = {("comment", "create"), ("follow", "create"), ("follow", "edit"), ("follow", "details"),
               ("follow", "delete"), ("follow", "action"), ("media", "edit"), ("audit", "create"), ("audit", "edit"),
               ("audit", "delete"), ("audit", "action")}  # fmt: skip
ENDPOINTS = ["list", "create", "edit", "details", "export", "delete", "action"]
ACTIONS = {"post": "review", "comment": "approve", "user": "delete", "role": "delete", "follow": "delete",
           "media": "delete", "audit": "delete"}  # fmt: skip


@pytest.fixture
def rows(users):
    author = users["author"]
    post = make_post(author, status="draft")
    published = make_post(users["editor"], status="published")
    comment = make_comment(users["reader"], published)
    follow = make_follow(users["reader"], author)
    spare = User(email="spare@example.com", username="spare", fs_uniquifier="spare-1", password="x")
    temp_role = Role(name="Temporary", permissions=1)
    image = Media(file_name="x.png", original_name="x.png", content_type="image/png", size=1, width=1, height=1,
                  uploader=users["author"])  # fmt: skip
    db.session.add_all([spare, temp_role, image])
    db.session.commit()
    entry = fresh(sa.select(AuditLog.id).limit(1)).scalar()
    return {
        "media": (Media, image.id),
        "audit": (AuditLog, entry),
        "post": (Post, post.id),
        "comment": (Comment, comment.id),
        "user": (User, spare.id),
        "role": (Role, temp_role.id),
        "follow": (Follow, f"{follow.follower_id},{follow.followed_id}"),
    }


def request_endpoint(browser, view: str, endpoint: str, row_id):
    base = f"/admin/{view}/"
    if endpoint == "list":
        return browser.get(base)
    if endpoint == "create":
        return browser.get(f"{base}new/")
    if endpoint == "edit":
        return browser.get(f"{base}edit/?id={row_id}")
    if endpoint == "details":
        return browser.get(f"{base}details/?id={row_id}")
    if endpoint == "export":
        return browser.get(f"{base}export/csv/")
    token = browser.csrf()
    if endpoint == "delete":
        return browser.post(f"{base}delete/", data={"id": row_id, "csrf_token": token})
    return browser.post(f"{base}action/", data={"action": ACTIONS[view], "rowid": row_id, "csrf_token": token})


def expected_status(role, view, endpoint) -> int:
    if role is None:
        return 302
    if role not in ALLOWED[view]:
        return 403
    if (view, endpoint) in NOT_OFFERED:
        return 403 if endpoint == "action" else 404
    return 302 if endpoint in ("delete", "action") else 200


CASES = [(role, view, endpoint) for view in ALLOWED for endpoint in ENDPOINTS for role in ROLES]


@pytest.mark.parametrize(("role", "view", "endpoint"), CASES, ids=[f"{r}-{v}-{e}" for r, v, e in CASES])
def test_console_endpoint_outcome(login_as, rows, role, view, endpoint):
    model, row_id = rows[view]
    browser = login_as(role)
    response = request_endpoint(browser, view, endpoint, row_id)
    want = expected_status(role, view, endpoint)
    assert response.status_code == want, response.get_data(as_text=True)[:500]

    if role is None:
        assert response.location.startswith("/login?next=%2Fadmin%2F") or response.location.startswith(
            "/login?next=/admin/"
        )
    elif want == 403 and endpoint != "action":
        assert "Forbidden" in response.get_data(as_text=True)
    elif want == 200 and endpoint == "export":
        assert response.mimetype == "text/csv"

    pk = sa.inspect(model).primary_key
    ids = [int(part) for part in str(row_id).split(",")]
    still_there = fresh(
        sa.select(sa.func.count()).select_from(model).where(*[c == v for c, v in zip(pk, ids, strict=True)])
    )
    count = still_there.scalar()
    deletes = endpoint == "delete" or (endpoint == "action" and ACTIONS[view] == "delete")
    if deletes and want == 302 and role is not None:
        assert count == 0, "a permitted delete removes the row"
    else:
        assert count == 1, "a refused request leaves the row in place"
    if endpoint == "action" and want == 302 and role is not None and view in ("post", "comment"):
        row = db.session.get(model, ids[0])
        assert row.status == {"post": "review", "comment": "approved"}[view]


def test_menu_shows_only_what_the_user_may_open(login_as):
    html = login_as("moderator").get("/admin/").get_data(as_text=True)
    assert "/admin/comment/" in html
    assert "/admin/post/" not in html
    assert "/admin/user/" not in html
    admin_html = login_as("administrator").get("/admin/").get_data(as_text=True)
    for view in ALLOWED:
        assert f"/admin/{view}/" in admin_html


@pytest.mark.parametrize("role", ["reader", None])
def test_console_front_page_is_for_staff_only(login_as, role):
    response = login_as(role).get("/admin/")
    assert response.status_code == (403 if role else 302)


def test_login_redirect_keeps_a_safe_next(login_as, users):
    browser = login_as(None)
    response = browser.get("/admin/post/?page=2")
    assert response.status_code == 302
    next_url = response.location.split("next=", 1)[1]
    assert next_url.startswith("/admin/post/") or next_url.startswith("%2Fadmin%2Fpost%2F")
    token = browser.token_for("/login")
    landed = browser.post(
        "/login?next=https://evil.example/steal",
        data={"email": users["editor"].email, "password": "correct-horse-battery", "csrf_token": token},
    )
    assert landed.status_code == 200, "an off-site next is refused, not followed"
    assert "Redirections outside the domain are forbidden" in landed.get_data(as_text=True)


POST_TOOLS = [
    ("GET", "/admin/post/revisions/?id={post}"),
    ("GET", "/admin/post/diff/?id={post}&a=1&b=2"),
    ("POST", "/admin/post/preview/"),
    ("POST", "/admin/post/restore/"),
    ("GET", "/admin/media/picker/"),
]


@pytest.mark.parametrize("role", ["reader", "moderator", "translator", None])
@pytest.mark.parametrize(("method", "url"), POST_TOOLS)
def test_editorial_tools_refuse_non_writers(login_as, rows, role, method, url):
    browser = login_as(role)
    url = url.format(post=rows["post"][1])
    if method == "GET":
        response = browser.get(url)
    else:
        response = browser.post(
            url, data={"id": rows["post"][1], "revision": 1, "body": "x", "csrf_token": browser.csrf()}
        )
    assert response.status_code == (302 if role is None else 403)
