"""Console addresses and forms no page builds: repeated, reserved or oversized arguments are a 400 or a 404 with
a message, never a 500, and never reach rows the list does not show."""

import pytest
import sqlalchemy as sa

from cms.models import Comment, OutgoingMail, PostStatus
from cms.routing import LARGEST_INTEGER
from tests.factories import make_comment, make_post
from tests.support.database import fresh

PAST = LARGEST_INTEGER + 1


@pytest.mark.parametrize("view", ["post", "comment", "user", "role", "blockedword", "audit", "media"])
def test_an_export_type_or_self_among_a_lists_arguments(login_as, view):
    administrator = login_as("administrator")
    response = administrator.get(f"/admin/{view}/?export_type=csv")
    assert response.status_code == 400 and "export type" in response.get_data(as_text=True)
    assert administrator.get(f"/admin/{view}/?self=1").status_code == 200


@pytest.mark.parametrize("page", ["edit", "details"])
def test_an_id_given_twice_or_past_what_a_database_takes_names_no_row(login_as, users, page):
    post = make_post(users["author"], PostStatus.DRAFT)
    administrator = login_as("administrator")
    assert administrator.get(f"/admin/post/{page}/?id={post.id}").status_code == 200
    assert administrator.get(f"/admin/post/{page}/?id={post.id}&id={post.id}").status_code == 404
    assert administrator.get(f"/admin/post/{page}/?id={LARGEST_INTEGER}").status_code == 404
    assert administrator.get(f"/admin/post/{page}/?id={PAST}").status_code == 404
    assert administrator.get(f"/admin/post/{page}/?id=%C2%B2").status_code == 404  # "²", a digit int() refuses


@pytest.mark.parametrize(
    "query",
    ["search=a%00b", "flt0_post_title_contains=a%00b", "flt0_author_user_username_contains=a%00b"],
)
def test_a_nul_character_in_a_search_or_filter_is_a_400(login_as, query):
    view = "comment" if "post_title" in query else "post"
    moderator_or_admin = login_as("administrator")
    for path in (f"/admin/{view}/?{query}", f"/admin/{view}/export/csv/?{query}"):
        response = moderator_or_admin.get(path)
        assert response.status_code == 400 and "NUL character" in response.get_data(as_text=True)


def test_numbers_past_what_a_database_takes_are_refused_or_name_nothing(login_as, users):
    post = make_post(users["author"], PostStatus.PUBLISHED)
    comment = make_comment(users["reader"], post)
    moderator = login_as("moderator")
    listed = moderator.get(f"/admin/comment/?status=all&flt0_post_id_equals={PAST}")
    assert listed.status_code == 200  # an invalid filter value is left out, as Flask-Admin does
    token = moderator.csrf()
    for action in ("approve", "delete"):
        response = moderator.post(
            "/admin/comment/action/", data={"action": action, "rowid": [str(PAST)], "csrf_token": token}
        )
        assert response.status_code == 400 and "not valid comment ids" in response.get_data(as_text=True)
    assert fresh(sa.select(Comment.status).where(Comment.id == comment.id)).scalar() == "pending"
    author = login_as("author")
    restored = author.post(
        "/admin/post/restore/", data={"id": str(post.id), "revision": str(PAST), "csrf_token": author.csrf()}
    )
    assert restored.status_code == 404
    administrator = login_as("administrator")
    lookup = administrator.get(f"/admin/post/ajax/lookup/?name=author&query=a&offset={PAST}")
    assert lookup.status_code == 200
    translator = login_as("translator")
    assert translator.get(f"/admin/translations/content/{PAST}/es/").status_code == 404


@pytest.mark.parametrize("rowid", ["abc", "", str(PAST)])
def test_sending_again_mail_that_is_no_mail_id_is_a_400(login_as, rowid):
    administrator = login_as("administrator")
    response = administrator.post(
        "/admin/outbox/action/", data={"action": "send_again", "rowid": [rowid], "csrf_token": administrator.csrf()}
    )
    assert response.status_code == 400 and "not valid mail ids" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(OutgoingMail)).scalar() == 0


def test_a_comment_filter_given_twice_is_refused_everywhere_it_selects(login_as, users):
    """The list would show the comments matching both values, "select all" and the exports those of the last: each
    of them refuses it, and nothing is changed."""
    first = make_post(users["author"], PostStatus.PUBLISHED, title="First")
    second = make_post(users["author"], PostStatus.PUBLISHED, title="Second")
    for post in (first, second):
        make_comment(users["reader"], post)
    moderator = login_as("moderator")
    query = f"status=all&flt0_post_id_equals={first.id}&flt1_post_id_equals={second.id}"
    assert moderator.get(f"/admin/comment/?{query}").status_code == 400
    assert moderator.get(f"/admin/comment/export/csv/?{query}").status_code == 400
    response = moderator.post(
        f"/admin/comment/action/?{query}",
        data={"action": "delete", "select_all": "1", "rowid": ["1"], "csrf_token": moderator.csrf()},
    )
    assert response.status_code == 400 and "twice" in response.get_data(as_text=True)
    assert fresh(sa.select(sa.func.count()).select_from(Comment)).scalar() == 2
