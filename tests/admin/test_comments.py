"""The comment queue: tabs and counts, filters, rows, bulk moderation per role, holds, audit."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from cms import comment_counts
from cms.comments import add_comment
from cms.extensions import db
from cms.models import AuditLog, BlockedWord, Comment, User, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import StatementCounter, fresh
from tests.support.exports import read_csv, read_xlsx


@pytest.fixture
def queue(users):
    post = make_post(users["author"], "published", title="The story")
    other = make_post(users["author"], "published", title="Another story")
    comments = {
        "p1": make_comment(users["reader"], post, body="First pending", status="pending"),
        "p2": make_comment(users["editor"], other, body="Second pending", status="pending"),
        "a1": make_comment(users["reader"], post, body="Approved one", status="approved"),
        "h1": make_comment(users["reader"], post, body="Hidden one", status="hidden"),
    }
    return post, comments


def statuses() -> dict[int, str]:
    return dict(fresh(sa.select(Comment.id, Comment.status)).tuples().all())


def test_tabs_show_live_counts_and_filter(login_as, queue):
    browser = login_as("moderator")
    html = browser.get("/admin/comment/").get_data(as_text=True)
    tabs = html.split('id="status-tabs"')[1].split("</ul>")[0]
    assert "Pending" in tabs and '<span class="badge badge-light">2</span>' in tabs
    pending = browser.get("/admin/comment/?flt0_status_equals=pending").get_data(as_text=True)
    assert "First pending" in pending and "Second pending" in pending and "Approved one" not in pending


def test_rows_show_post_link_author_age_and_hidden_count(login_as, queue):
    post, _ = queue
    html = login_as("moderator").get("/admin/comment/?flt0_status_equals=pending").get_data(as_text=True)
    assert f'href="/en/posts/{post.slug}">The story</a>' in html
    assert "reader" in html and "member for 0 days" in html and "1 hidden comment" in html


def test_rows_link_live_posts_to_the_site_and_the_others_to_their_editor(login_as, users):
    live = make_post(users["author"], "published", title="Live <one>", slug="新闻-live", locale="zh")
    later = make_post(users["author"], "published", title="Later", published_at=utcnow() + timedelta(days=1))
    draft = make_post(users["author"], "draft", title="Draft")
    for post in (live, later, draft):
        make_comment(users["reader"], post, body=f"On {post.title}")
    make_comment(users["reader"], live, body="Hidden", status="hidden")
    html = login_as("moderator").get("/admin/comment/?status=all").get_data(as_text=True)
    assert '<a href="/zh/posts/%E6%96%B0%E9%97%BB-live">Live &lt;one&gt;</a>' in html
    assert f'<a href="/admin/post/edit/?id={later.id}">Later</a>' in html
    assert f'<a href="/admin/post/edit/?id={draft.id}">Draft</a>' in html
    assert html.count("1 hidden comment") == 4 and "Hidden (" not in html  # a hidden one without a reason


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("flt0_post_title_contains=Another", {"Second pending"}),
        ("flt0_author_equals=reader", {"First pending", "Approved one", "Hidden one"}),
        ("search=editor", {"Second pending"}),
        ("search=one", {"Approved one", "Hidden one"}),
        ("flt0_status_equals=approved&search=one", {"Approved one"}),
    ],
)
def test_filters_and_search_select_the_right_comments(login_as, queue, query, expected):
    html = login_as("moderator").get(f"/admin/comment/?{query}").get_data(as_text=True)
    bodies = {"First pending", "Second pending", "Approved one", "Hidden one"}
    assert {body for body in bodies if body in html} == expected


def test_date_range_filter(login_as, queue):
    p1 = queue[1]["p1"]
    p1.created_at = p1.created_at.replace(year=2020)
    db.session.commit()
    html = login_as("moderator").get("/admin/comment/?flt0_created_before=2021-01-01").get_data(as_text=True)
    assert "First pending" in html and "Second pending" not in html


@pytest.mark.parametrize("moment", ["2021-01-01T05:00:00+05:00", "2021-01-01T00:00:00Z", "2020-12-31T19:00:00-05:00"])
def test_a_date_filter_with_an_offset_is_that_moment_in_utc(login_as, queue, moment):
    """Its offset was dropped (+05:00 read as UTC), and the xlsx export failed on it ("Excel doesn't support
    timezones")."""
    first, second = queue[1]["p1"], queue[1]["p2"]
    first.created_at = first.created_at.replace(year=2020, month=12, day=31, hour=23, minute=59)
    second.created_at = second.created_at.replace(year=2021, month=1, day=1, hour=0, minute=1)
    db.session.commit()
    moderator = login_as("moderator")
    html = moderator.get(f"/admin/comment/?flt0_created_before={quote(moment)}").get_data(as_text=True)
    assert "First pending" in html and "Second pending" not in html
    for fmt in ("csv", "xlsx"):
        response = moderator.get(f"/admin/comment/export/{fmt}/?flt0_created_before={quote(moment)}")
        assert response.status_code == 200
        rows = (read_xlsx if fmt == "xlsx" else read_csv)(response.get_data())[1:]
        assert [row[7] for row in rows] == ["First pending"], fmt


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
@pytest.mark.parametrize("field", ["created_on_or_after", "created_before"])
def test_a_moment_whose_offset_takes_it_past_the_calendar_is_an_invalid_filter(login_as, queue, field, moment):
    """Taken to UTC, it fell before year 1 or after 9999: Python's OverflowError, a 500 on the list, the exports and
    the bulk actions."""
    moderator = login_as("moderator")
    query = f"?status=all&flt0_{field}={quote(moment)}"
    response = moderator.get(f"/admin/comment/{query}")
    assert response.status_code == 200 and "Invalid Filter Value" in response.get_data(as_text=True)
    for fmt in ("csv", "xlsx"):
        assert moderator.get(f"/admin/comment/export/{fmt}/{query}").status_code == 200
    form = {"action": "approve", "rowid": "0", "select_all": "1", "csrf_token": moderator.csrf()}
    assert moderator.post(f"/admin/comment/action/{query}", data=form).status_code == 302


def test_comments_of_post_0_are_none_and_select_all_reaches_none(login_as, queue):
    """Post 0 was taken for no filter: the list showed "Post ID equals 0" over every comment, and "approve all
    matching" reached them all."""
    moderator = login_as("moderator")
    html = moderator.get("/admin/comment/?status=all&flt0_post_id_equals=0").get_data(as_text=True)
    assert "First pending" not in html and "Approved one" not in html
    assert "0 rows match." in html, "the count was the counters' every comment"
    csv = moderator.get("/admin/comment/export/csv/?status=all&flt0_post_id_equals=0")
    assert read_csv(csv.get_data())[1:] == []
    entry = fresh(sa.select(AuditLog.summary).where(AuditLog.action == "export")).scalar_one()
    assert entry.startswith("0 comments"), entry
    before = statuses()
    form = {"action": "approve", "rowid": "0", "select_all": "1", "csrf_token": moderator.csrf()}
    response = moderator.post("/admin/comment/action/?status=all&flt0_post_id_equals=0", data=form)
    assert response.status_code == 302 and statuses() == before


@pytest.mark.parametrize(
    ("action", "status", "reason"),
    [("approve", "approved", None), ("hide_spam", "hidden", "spam"), ("hide_abuse", "hidden", "abuse"),
     ("hide_off_topic", "hidden", "off-topic"), ("hide_other", "hidden", "other")],
)  # fmt: skip
def test_bulk_moderation_records_status_reason_moderator_and_audit(login_as, users, queue, action, status, reason):
    _, comments = queue
    browser = login_as("moderator")
    ids = [comments["p1"].id, comments["p2"].id]
    response = browser.post(
        "/admin/comment/action/",
        data={"action": action, "rowid": ids, "csrf_token": browser.csrf()},
        follow_redirects=True,
    )
    assert "2 comments changed." in response.get_data(as_text=True)
    rows = fresh(sa.select(Comment).where(Comment.id.in_(ids))).scalars().all()
    assert {(c.status, c.hidden_reason, c.moderated_by_id) for c in rows} == {(status, reason, users["moderator"].id)}
    entry = fresh(sa.select(AuditLog).where(AuditLog.action == f"bulk_{status}")).scalar_one()
    assert entry.user_id == users["moderator"].id and "2 comments" in entry.summary


def test_select_all_matching_moderates_thousands_in_batches(login_as, users, queue, app):
    post, _ = queue
    db.session.execute(
        sa.insert(Comment),
        [{"body": f"bulk {n}", "body_html": "", "status": "pending", "author_id": users["reader"].id, "post_id": post.id}
         for n in range(2500)],
    )  # fmt: skip
    db.session.commit()
    comment_counts.recount()  # bulk inserts bypass the counting hooks, as the seed's do
    browser = login_as("moderator")
    token = browser.csrf()
    with StatementCounter(db.engine) as counter:
        response = browser.post(
            "/admin/comment/action/?search=bulk",
            data={"action": "hide_spam", "rowid": "0", "select_all": "1", "csrf_token": token},
        )
    assert "2500 comments changed." in browser.get(response.location).get_data(as_text=True)
    counts = dict(fresh(sa.select(Comment.status, sa.func.count()).group_by(Comment.status)).tuples().all())
    assert counts["hidden"] == 2501 and counts["pending"] == 2
    assert comment_counts.mismatches() == {}, "the tabs' counters moved with the batches"
    updates = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE COMMENT SET")]
    assert len(updates) == 3, "one UPDATE per batch of 1,000"


def test_delete_action_removes_rows(login_as, queue):
    _, comments = queue
    browser = login_as("moderator")
    browser.post(
        "/admin/comment/action/", data={"action": "delete", "rowid": [comments["p1"].id], "csrf_token": browser.csrf()}
    )
    assert comments["p1"].id not in statuses()


def test_only_admin_may_deactivate_authors(login_as, users, queue):
    _, comments = queue
    moderator = login_as("moderator")
    response = moderator.post(
        "/admin/comment/action/",
        data={"action": "deactivate_authors", "rowid": [comments["p1"].id], "csrf_token": moderator.csrf()},
    )
    assert response.status_code == 403
    assert fresh(sa.select(User.active).where(User.id == users["reader"].id)).scalar() is True
    admin = login_as("administrator")
    admin.post(
        "/admin/comment/action/",
        data={
            "action": "deactivate_authors",
            "rowid": [comments["p1"].id, comments["p2"].id],
            "csrf_token": admin.csrf(),
        },
    )
    active = dict(fresh(sa.select(User.username, User.active)).tuples().all())
    assert active["reader"] is False and active["editor"] is False and active["administrator"] is True
    assert fresh(sa.select(AuditLog).where(AuditLog.action == "bulk_deactivate")).scalar_one()


def test_admin_never_deactivates_themselves(login_as, users, queue):
    post, _ = queue
    own = make_comment(users["administrator"], post, body="admin's comment")
    admin = login_as("administrator")
    admin.post(
        "/admin/comment/action/", data={"action": "deactivate_authors", "rowid": [own.id], "csrf_token": admin.csrf()}
    )
    assert fresh(sa.select(User.active).where(User.id == users["administrator"].id)).scalar() is True


@pytest.mark.parametrize("role", ["reader", "author", "editor", "translator"])
def test_non_moderators_cannot_moderate(login_as, queue, role):
    _, comments = queue
    browser = login_as(role)
    response = browser.post(
        "/admin/comment/action/", data={"action": "approve", "rowid": [comments["p1"].id], "csrf_token": browser.csrf()}
    )
    assert response.status_code == 403
    assert statuses()[comments["p1"].id] == "pending"


def test_editing_a_comment_to_hidden_needs_a_reason(login_as, queue):
    _, comments = queue
    browser = login_as("moderator")
    url = f"/admin/comment/edit/?id={comments['p1'].id}"
    response = browser.edit(url, {"status": "hidden", "hidden_reason": ""})
    assert response.status_code == 200 and "Choose why the comment is hidden." in response.get_data(as_text=True)
    assert browser.edit(url, {"status": "hidden", "hidden_reason": "abuse"}).status_code == 302
    assert fresh(sa.select(Comment.hidden_reason).where(Comment.id == comments["p1"].id)).scalar() == "abuse"


# -- holds -------------------------------------------------------------------------------------------
@pytest.fixture
def open_comments(app):
    app.config["COMMENTS_PREMODERATED"] = False
    yield
    app.config["COMMENTS_PREMODERATED"] = True


def test_clean_comment_is_published_without_premoderation(users, queue, open_comments):
    comment = add_comment(users["editor"], queue[0], "A perfectly fine remark.")
    assert (comment.status, comment.held_reason) == ("approved", None)


def test_reader_with_hidden_comments_is_held(users, queue, open_comments):
    comment = add_comment(users["reader"], queue[0], "Trust me this time.")
    assert comment.status == "pending" and comment.held_reason == "earlier comments hidden (1)"


def test_too_many_links_are_held(users, queue, open_comments):
    body = "see http://a.example and https://b.example and www.c.example"
    comment = add_comment(users["editor"], queue[0], body)
    assert comment.status == "pending" and comment.held_reason == "3 links"


@pytest.mark.parametrize(("word", "body", "held"), [
    ("casino", "Best CASINO bonus!", True), ("casino", "casinos are fine", False), ("博彩", "欢迎来博彩网站", True),
])  # fmt: skip
def test_blocked_words_are_held(users, queue, open_comments, word, body, held):
    db.session.add(BlockedWord(word=word))
    db.session.commit()
    comment = add_comment(users["editor"], queue[0], body)
    assert (comment.status == "pending") is held
    if held:
        assert comment.held_reason == f"blocked word: {word.casefold()}"


def test_held_reason_is_shown_in_the_queue(login_as, users, queue, open_comments):
    add_comment(users["reader"], queue[0], "Held for history")
    html = login_as("moderator").get("/admin/comment/?flt0_status_equals=pending").get_data(as_text=True)
    assert "held: earlier comments hidden (1)" in html


def test_moderators_maintain_the_blocked_words(login_as):
    browser = login_as("moderator")
    assert browser.submit("/admin/blockedword/new/", {"word": "  Viagra "}).status_code == 302
    assert fresh(sa.select(BlockedWord.word)).scalar() == "viagra"
    assert login_as("author").get("/admin/blockedword/").status_code == 403


@pytest.mark.parametrize("again", ["SPAM", " spam ", "Spam", "ＳＰＡＭ", "spa\u200bm", "SPA\u00adM"])
def test_a_blocked_word_already_listed_in_another_case_is_a_form_error(login_as, again):
    """In another case, or another form of the same letters (full-width, an invisible character inside)."""
    browser = login_as("moderator")
    assert browser.submit("/admin/blockedword/new/", {"word": "spam"}).status_code == 302
    response = browser.submit("/admin/blockedword/new/", {"word": again})
    html = response.get_data(as_text=True)
    # MariaDB's collation finds it in the form's own check ("Already exists."), SQLite's does not.
    assert response.status_code == 200 and ("“spam” is on the list already." in html or "Already exists." in html)
    assert "INSERT" not in html and "Integrity" not in html
    assert list(fresh(sa.select(BlockedWord.word)).scalars()) == ["spam"]


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad", " \u200b\u2060 "])
def test_a_blocked_word_of_invisible_characters_alone_is_a_form_error(login_as, invisible):
    """Kept folded, it was an empty word: a row that held nothing."""
    response = login_as("moderator").submit("/admin/blockedword/new/", {"word": invisible})
    assert response.status_code == 200
    assert "A blocked word needs letters or digits" in response.get_data(as_text=True)
    assert list(fresh(sa.select(BlockedWord.word)).scalars()) == []


@pytest.mark.parametrize(("length", "status"), [(100, 302), (101, 200)], ids=["100", "101"])
def test_a_blocked_word_of_100_characters_is_kept_and_one_more_refused(login_as, length, status):
    response = login_as("moderator").submit("/admin/blockedword/new/", {"word": "w" * length})
    assert response.status_code == status
    assert list(fresh(sa.select(BlockedWord.word)).scalars()) == (["w" * length] if status == 302 else [])
    if status == 200:  # said once (the column's length and a second one in the form's arguments said it twice)
        assert response.get_data(as_text=True).count("Field cannot be longer than 100 characters.") == 1


@pytest.mark.parametrize(("typed", "kept"), [("ß" * 50, "ss" * 50), ("ß" * 51, None), ("ﬁ" * 51, None)])
def test_a_blocked_word_longer_than_100_characters_in_lower_case_is_refused(login_as, typed, kept):
    """Lower case can be longer than what was typed ("ß" is "ss", "ﬁ" is "fi"): 51 such letters pass the form's
    100 characters and become 102, which MariaDB refused (a 500)."""
    response = login_as("moderator").submit("/admin/blockedword/new/", {"word": typed})
    assert list(fresh(sa.select(BlockedWord.word)).scalars()) == ([kept] if kept else [])
    if kept is None:
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "A blocked word is at most 100 characters long in lower case." in html


def test_the_list_opens_on_the_pending_comments_and_all_is_a_tab_away(login_as, queue):
    browser = login_as("moderator")
    html = browser.get("/admin/comment/").get_data(as_text=True)
    tabs = html.split('id="status-tabs"')[1].split("</ul>")[0]
    assert "First pending" in html and "Second pending" in html
    assert "Approved one" not in html and "Hidden one" not in html
    assert 'class="nav-link active" href="/admin/comment/?flt0_status_equals=pending"' in tabs
    assert 'href="/admin/comment/?status=all"' in tabs
    everything = browser.get("/admin/comment/?status=all").get_data(as_text=True)
    assert all(body in everything for body in ("First pending", "Second pending", "Approved one", "Hidden one"))
    assert 'class="nav-link active" href="/admin/comment/?status=all"' in everything


def test_the_pages_of_all_comments_stay_on_all(login_as, users, app):
    post = make_post(users["author"], "published")
    for n in range(app.config["ADMIN_PAGE_SIZE"] + 1):
        make_comment(users["reader"], post, body=f"approved {n}", status="approved")
    html = login_as("moderator").get("/admin/comment/?status=all").get_data(as_text=True)
    assert "status=all" in html.split('class="pagination')[1].split("</ul>")[0]
    second = login_as("moderator").get("/admin/comment/?status=all&page=1").get_data(as_text=True)
    assert "approved 0" in second  # the oldest, on the second page of every comment
