"""Console lists at size (admin_views/base.py): capped counts with the exact figure one click away, deep
offsets refused with a message, stable pages on ties, and a statement count that does not grow with the page."""

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from flask import url_for
from sqlalchemy import event

from admin_views.base import row_url
from cms import post_counts
from cms.extensions import db
from cms.models import BlockedWord, CommentStatus, OutgoingMail, Post, PostStatus, User, utcnow
from tests.factories import make_comment, make_post
from tests.support.database import StatementCounter, backend_of, count_statements
from tests.support.web import assert_counted_to_the_cap


@pytest.fixture
def posts(users):
    same_time = utcnow()
    made = [make_post(users["author"], PostStatus.DRAFT, title=f"Row {n:02d}") for n in range(45)]
    for post in made:
        post.updated_at = same_time  # every row ties on the list's sort key
    db.session.commit()
    return made


def titles(html: str) -> set[str]:
    return {f"Row {n:02d}" for n in range(45) if f"Row {n:02d}" in html}


def test_count_stops_at_the_cap_and_the_exact_count_is_one_click_away(app, login_as, posts, monkeypatch):
    browser = login_as("editor")
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 45)
    assert "45 rows match." in browser.get("/admin/post/").get_data(as_text=True)
    assert_counted_to_the_cap(app, monkeypatch, browser, "/admin/post/?search=Row", 45)


def test_pages_past_the_offset_limit_ask_to_narrow_the_list(app, login_as, posts, monkeypatch):
    monkeypatch.setitem(app.config, "LIST_MAX_OFFSET", 40)
    browser = login_as("editor")
    last_allowed = browser.get("/admin/post/?page_size=20&page=1")
    assert last_allowed.status_code == 200 and len(titles(last_allowed.get_data(as_text=True))) == 20
    too_deep = browser.get("/admin/post/?page_size=20&page=2")
    html = too_deep.get_data(as_text=True)
    assert too_deep.status_code == 200
    assert "too far down the list" in html and not titles(html)


def test_a_list_whose_statements_would_read_past_list_rows_examined_says_so_instead(app, login_as, posts, monkeypatch):
    """On MariaDB, a page whose statements would examine more than LIST_ROWS_EXAMINED rows shows no rows and asks
    to narrow the list, and a count that would says it was not counted, with the exact count (which reads what it
    takes) a click away. 0 turns the ceiling off; SQLite has none."""
    browser = login_as("editor")
    url = "/admin/post/?flt0_author_user_username_not_equal=nobody"  # a join no index narrows: every post read
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 0)
    whole = browser.get(url).get_data(as_text=True)
    assert len(titles(whole)) == 20 and "45 rows match." in whole and "list-too-wide" not in whole
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 10)
    stopped = browser.get(url)
    html = stopped.get_data(as_text=True)
    assert stopped.status_code == 200
    if backend_of(app) == "sqlite":
        assert len(titles(html)) == 20 and "45 rows match." in html and "list-too-wide" not in html
        return
    assert "This page was not read" in html and "more than 10 rows" in html and not titles(html)
    assert "Not counted: counting would examine more than 10 rows." in html
    exact = browser.get(unquote(re.search(r'href="([^"]+)" id="exact-count"', html).group(1)).replace("&amp;", "&"))
    assert "45 rows match." in exact.get_data(as_text=True)
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 10_000)
    assert len(titles(browser.get(url).get_data(as_text=True))) == 20


def test_a_date_range_too_wide_to_read_in_the_lists_order_offers_the_filtered_columns_order(
    app, login_as, users, monkeypatch
):
    """Published posts filtered by their publication date, in the list's order (the last change), stopped at the
    ceiling: the message links to the list sorted by the publication date, where the range is read along its index
    and the page is shown. A filter of one value offers no order."""
    published_at = utcnow() - timedelta(days=3)
    for n in range(30):
        make_post(users["author"], PostStatus.PUBLISHED, title=f"Row {n:02d}", published_at=published_at)
    browser = login_as("editor")
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 5)
    before = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    html = browser.get(f"/admin/post/?flt0_published_at_smaller_than={before}").get_data(as_text=True)
    if backend_of(app) == "sqlite":
        assert len(titles(html)) == 20 and "list-too-wide" not in html
        return
    assert "This page was not read" in html and not titles(html)
    offered = re.findall(r'<a href="([^"]+)" class="list-sorted-by-filter">([^<]+)</a>', html)
    assert [label for _, label in offered] == ["Sort by Published at"]
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 60)  # the range's 20 rows and its count's 30
    sorted_page = browser.get(offered[0][0].replace("&amp;", "&")).get_data(as_text=True)
    assert len(titles(sorted_page)) == 20 and "list-too-wide" not in sorted_page
    monkeypatch.setitem(app.config, "LIST_ROWS_EXAMINED", 5)
    one_value = browser.get("/admin/post/?flt0_status_equals=published&flt1_author_user_username_not_equal=nobody")
    html = one_value.get_data(as_text=True)
    assert "This page was not read" in html and "list-sorted-by-filter" not in html


def test_rows_that_tie_on_the_sort_key_are_never_on_two_pages(login_as, posts):
    browser = login_as("editor")
    pages = [titles(browser.get(f"/admin/post/?page_size=20&page={n}").get_data(as_text=True)) for n in range(3)]
    assert [len(p) for p in pages] == [20, 20, 5]
    assert set().union(*pages) == titles(" ".join(f"Row {n:02d}" for n in range(45)))


@pytest.mark.parametrize("order", ["sort=2", "sort=2&desc=1"])  # by status, ties after it by the rest of its index
def test_rows_that_tie_on_a_sorted_column_are_never_on_two_pages(login_as, posts, order):
    browser = login_as("editor")
    pages = [
        titles(browser.get(f"/admin/post/?{order}&page_size=20&page={n}").get_data(as_text=True)) for n in range(3)
    ]
    assert [len(p) for p in pages] == [20, 20, 5]
    assert set().union(*pages) == titles(" ".join(f"Row {n:02d}" for n in range(45)))


def test_authors_count_only_their_own_posts(login_as, users, posts):
    make_post(users["editor"], PostStatus.DRAFT, title="Not yours")
    assert "45 rows match." in login_as("author").get("/admin/post/").get_data(as_text=True)


def test_the_post_lists_count_of_every_post_or_one_status_is_read_from_the_stored_counts(app, login_as, users):
    """For one who sees every post: no filter, or a status alone, shows the stored per-status counts with no post
    read; any other filter, and an author's own posts, count the posts. A bulk insert bypasses the counting hooks,
    which shows which was read."""
    for status in (PostStatus.DRAFT, PostStatus.DRAFT, PostStatus.REVIEW):
        make_post(users["author"], status)
    bulk = {"title": "Bulk", "slug": "bulk", "body": "", "body_html": "", "locale": "en"}
    db.session.execute(sa.insert(Post), [{**bulk, "status": PostStatus.DRAFT, "author_id": users["author"].id}])
    db.session.commit()
    editor = login_as("editor")

    def count(browser, url: str) -> str:
        return re.search(r"(\S+) rows? match", browser.get(url).get_data(as_text=True)).group(1)

    assert count(editor, "/admin/post/") == "3"
    assert count(editor, "/admin/post/?flt0_status_equals=draft") == "2"
    assert count(editor, "/admin/post/?flt0_status_equals=archived") == "0"
    assert count(editor, "/admin/post/?flt0_status_equals=draft&flt1_language_equals=en") == "3"
    assert count(editor, "/admin/post/?flt0_status_not_equal=draft") == "1"
    assert count(login_as("author"), "/admin/post/?flt0_status_equals=draft") == "3"
    post_counts.recount()
    assert count(editor, "/admin/post/") == "4"
    assert count(editor, "/admin/post/?flt0_status_equals=draft") == "3"


@pytest.fixture
def crowd(users):
    """Enough rows of each list for 3 pages of 20: comments, posts and users."""
    db.session.add_all(
        User(email=f"c{n}@example.com", username=f"crowd{n}", fs_uniquifier=f"crowd{n}") for n in range(60)
    )
    post = make_post(users["author"], PostStatus.PUBLISHED, published_at=utcnow() - timedelta(hours=1))
    for n in range(60):
        make_post(users["author"], PostStatus.DRAFT, title=f"Draft {n}")
        make_comment(users["reader"], post, body=f"Comment {n}", status=CommentStatus.PENDING)
    return post


@pytest.mark.parametrize(
    "url",
    [
        "/admin/comment/?page_size={size}&page={page}",
        "/admin/comment/?flt0_status_equals=pending&page_size={size}&page={page}",
        "/admin/post/?page_size={size}&page={page}",
        "/admin/post/?flt0_status_equals=draft&page_size={size}&page={page}",
        "/admin/user/?search=crowd&page_size={size}&page={page}",
    ],
)
def test_statements_per_list_page_do_not_grow_with_page_size_or_number(login_as, crowd, url):
    browser = login_as("administrator")
    counts = {count_statements(browser, url.format(size=size, page=page)) for size in (20, 50) for page in (0, 1)}
    assert len(counts) == 1, counts


def test_post_rows_on_a_list_page_leave_the_bodies_unread(login_as, crowd):
    browser = login_as("administrator")
    with StatementCounter(db.engine) as counter:
        assert browser.get("/admin/post/").status_code == 200
    post_reads = [s for s in counter.statements if "FROM post" in s and "post.id IN" in s]
    assert post_reads and not any("post.body" in s for s in post_reads)
    assert Post  # the model the list shows


def test_user_rows_on_a_list_page_leave_the_secrets_and_the_about_text_unread(login_as, crowd):
    browser = login_as("administrator")
    with StatementCounter(db.engine) as counter:
        page = browser.get("/admin/user/?search=crowd")
    assert page.status_code == 200 and "crowd59" in page.get_data(as_text=True)
    user_reads = [s for s in counter.statements if re.search(r"WHERE user\.id IN \((\?|%\()", s)]
    assert len(user_reads) == 1, user_reads  # the page's rows by id, with their roles: one statement
    for column in ("password", "tf_totp_secret", "mf_recovery_codes", "about_me", "tf_phone_number"):
        assert f"user.{column}" not in user_reads[0]


def test_a_posts_row_and_edit_page_link_to_its_comments(login_as, users):
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Linked story")
    other = make_post(users["author"], PostStatus.PUBLISHED, title="Other story")
    make_comment(users["reader"], post, body="On the linked story")
    make_comment(users["reader"], other, body="On the other story")
    browser = login_as("administrator")
    link = f"/admin/comment/?flt0_post_id_equals={post.id}"
    assert link in browser.get("/admin/post/").get_data(as_text=True)
    assert link in browser.get(f"/admin/post/edit/?id={post.id}").get_data(as_text=True)
    html = browser.get(link).get_data(as_text=True)
    assert "On the linked story" in html and "On the other story" not in html
    assert "1 row matches." in html
    editor = login_as("editor")  # editors do not moderate: neither the row nor the edit page links to the queue
    assert link not in editor.get("/admin/post/").get_data(as_text=True)
    edit_page = editor.get(f"/admin/post/edit/?id={post.id}")
    assert edit_page.status_code == 200
    assert link not in edit_page.get_data(as_text=True) and 'id="post-comments"' not in edit_page.get_data(as_text=True)


def test_a_bad_post_id_filter_is_ignored_not_a_server_error(login_as, users):
    response = login_as("moderator").get("/admin/comment/?flt0_post_id_equals=abc")
    assert response.status_code == 200


def test_the_queue_reads_its_counts_from_the_counters_not_the_comments(login_as, users):
    post = make_post(users["author"], PostStatus.PUBLISHED)
    for n in range(3):
        make_comment(users["reader"], post, body=f"Waiting {n}")
    browser = login_as("moderator")
    browser.get("/admin/")
    with StatementCounter(db.engine) as counter:
        html = browser.get("/admin/comment/?flt0_status_equals=pending").get_data(as_text=True)
    assert "3 rows match." in html
    counting = [s for s in counter.statements if "count(" in s.lower() and "FROM comment" in s]
    # The only count over comments is each shown author's hidden comments, beside the page's rows.
    assert counting and all("comment.id IN" in s and "comment_1.author_id = comment.author_id" in s for s in counting)


def test_a_list_shows_admin_page_size_rows_and_the_next_row_on_the_second_page(app, login_as, posts):
    size = app.config["ADMIN_PAGE_SIZE"]
    browser = login_as("editor")
    first = titles(browser.get("/admin/post/").get_data(as_text=True))
    second = titles(browser.get("/admin/post/?page=1").get_data(as_text=True))
    assert len(first) == size and len(second) == size and not first & second


def _console_view(app, endpoint: str):
    [admin] = app.extensions["admin"]
    return next(view for view in admin._views if view.endpoint == endpoint)


@pytest.mark.parametrize(("max_rows", "exported"), [(45, 45), (44, 44)], ids=["every-row", "one-row-over"])
def test_a_csv_export_stops_at_export_max_rows(app, login_as, posts, monkeypatch, max_rows, exported):
    monkeypatch.setattr(_console_view(app, "post"), "export_max_rows", max_rows)
    csv = login_as("editor").get("/admin/post/export/csv/").get_data(as_text=True)
    assert len(titles(csv)) == exported


def test_list_rows_offer_view_and_edit_and_delete_stays_a_bulk_action(login_as, posts):
    html = login_as("editor").get("/admin/post/").get_data(as_text=True)
    assert 'title="View Record"' in html and 'title="Edit Record"' in html
    assert 'action="/admin/post/delete/"' not in html  # no per-row form with its own token on every row
    assert 'data-action="delete"' in html  # the bulk action (run by admin/console.js)


def test_each_rows_view_and_edit_links_name_that_row_and_come_back_to_the_list(login_as, crowd):
    """The links are built once per page with a stand-in id (admin_views.base.RowLink): every row gets its own."""
    browser = login_as("administrator")
    html = browser.get("/admin/comment/?status=all&page_size=20").get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)]
    assert len(shown) == 20
    for view in ("details", "edit"):
        links = re.findall(rf'href="/admin/comment/{view}/\?id=(\d+)&amp;url=([^"]+)"', html)
        assert [int(comment_id) for comment_id, _ in links] == shown, view
        assert {unquote(back) for _, back in links} == {"/admin/comment/?status=all&page_size=20"}
    assert browser.get(f"/admin/comment/edit/?id={shown[-1]}").status_code == 200


def test_each_rows_check_box_is_read_out_by_the_rows_own_text(login_as, users):
    """The name is the row's shown text without its markup, cut at 60 characters, in the viewer's language; the
    cells are the columns' own formatting (admin_views.base.StaffModelView.shown_row)."""
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Story <one>")
    long_body = "**Bold** start " + "word " * 20
    make_comment(users["reader"], post, body=long_body)
    make_comment(users["reader"], post, body='He said "stop" & 5 < 6')
    html = login_as("moderator").get("/admin/comment/").get_data(as_text=True)
    labels = re.findall(r'class="action-checkbox" value="\d+" aria-label="([^"]*)"', html)
    assert labels == [
        "Select “He said &#34;stop&#34; &amp; 5 &lt; 6”",
        "Select “Bold start word word word word word word word word word...”",
    ]
    assert html.count("Story &lt;one&gt;</a>") == 2 and "<strong>Bold</strong> start" in html
    spanish = login_as("moderator").get("/admin/comment/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert spanish.count('aria-label="Seleccionar «') == 2


@pytest.mark.parametrize("slug", ["plain-slug", "新闻-报道", "a b?c#d&e=f/g%h", "ünïcode+'()"])
def test_a_row_url_is_what_url_for_builds(app, slug):
    """admin_views.base.row_url builds each route once per request and fills in each row's value: the same URLs."""
    with app.test_request_context("/admin/comment/"):
        assert row_url("public.post", {"locale": "zh"}, slug=slug) == url_for("public.post", locale="zh", slug=slug)
        assert row_url("public.post", {"locale": "en"}, slug=slug) == url_for("public.post", locale="en", slug=slug)
        for post_id in (1, 42, 10**9):
            assert row_url("post.edit_view", id=post_id) == url_for("post.edit_view", id=post_id)


def test_each_posts_comments_link_filters_the_queue_to_that_post(login_as, crowd):
    html = login_as("administrator").get("/admin/post/?page_size=20").get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)]
    links = [int(n) for n in re.findall(r'href="/admin/comment/\?flt0_post_id_equals=(\d+)"', html)]
    assert len(shown) == 20 and links == shown


ORDERS = [
    "/admin/post/?sort=2",  # status
    "/admin/post/?sort=2&desc=1",
    "/admin/user/?sort=0",  # email
    "/admin/user/?sort=1&desc=1",  # username
    "/admin/user/?sort=2",  # name (migration c9f5e3a7b1d4)
    "/admin/user/?sort=2&desc=1",
    "/admin/post/",
    "/admin/comment/?status=all",
    "/admin/comment/?status=all&sort=1",
]
# Filters on a column that few rows hold, with the list's order (migration a7d3f9c2e1b5).
FILTERS = [
    "/admin/post/?flt0_language_equals=es",
    "/admin/user/?flt0_active_equals=0",
    "/admin/user/?flt0_locale_equals=es",
    "/admin/user/?flt0_last_seen_greater_than=2999-01-01+00:00:00",
    "/admin/user/?flt0_confirmed_at_greater_than=2999-01-01+00:00:00",
]


def page_plan(browser, url: str) -> tuple[str, str]:
    """The statement that reads the ids of `url`'s page, and the database's plan for it."""
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert browser.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    (statement, parameters), *_ = [(s, p) for s, p in seen if "ORDER BY" in s and "LIMIT" in s and ".id AS" in s]
    explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return statement, " ".join(str(row) for row in conn.exec_driver_sql(explain + statement, parameters))


@pytest.mark.parametrize("url", ORDERS)
def test_a_sorted_list_page_is_read_along_an_index_not_sorted(login_as, crowd, url):
    """Every order a list offers on an indexed column is made total by what the index holds after it (the rest of
    the index, the primary key; nothing after a unique column), so the database walks the index to the page
    instead of sorting every row: with the key alone after the status, MariaDB sorted all 100,000 posts to show
    20 (374 ms against stock Flask-Admin's 55)."""
    statement, plan = page_plan(login_as("administrator"), url)
    assert ("TEMP B-TREE" if db.engine.dialect.name == "sqlite" else "filesort") not in plan, (statement, plan)


@pytest.mark.parametrize("url", FILTERS)
def test_a_filtered_list_page_finds_its_rows_through_an_index(login_as, crowd, url):
    """A filter on a column few rows hold reads them through an index: without one, the posts in a language read
    the whole table twice (200,008 rows, 269 ms), the inactive accounts 100,014 rows."""
    statement, plan = page_plan(login_as("administrator"), url)
    if db.engine.dialect.name != "sqlite":
        assert "'ALL'" not in plan, (statement, plan)
    elif "_equals=" in url:  # SQLite, without statistics, walks a date range along the list's order instead
        assert re.search(r"SEARCH \w+ USING (COVERING )?INDEX", plan), (statement, plan)


# The post list filtered by a date, in its order (newest changes first; migration d4b7e2a9c5f1).
DATE_FILTERS = [
    "/admin/post/?flt0_published_at_smaller_than=2999-01-01+00:00:00",
    "/admin/post/?flt0_created_at_smaller_than=2999-01-01+00:00:00",
    "/admin/post/?flt0_published_at_greater_than=2000-01-01+00:00:00",
    "/admin/post/?flt0_created_at_between=2000-01-01+00:00:00+to+2999-01-01+00:00:00",
]


@pytest.fixture
def published(users):
    """60 published posts: a date filter that most posts pass, as on a newsroom's list."""
    for n in range(60):
        make_post(users["author"], PostStatus.PUBLISHED, title=f"Story {n}", published_at=utcnow() - timedelta(days=n))


@pytest.mark.parametrize("url", DATE_FILTERS)
def test_a_post_list_filtered_by_a_date_walks_an_index_that_holds_the_dates(login_as, published, url):
    """The walk along updated_at compares each post's dates in the index (ix_post_updated_dates), not in the post's
    row: read row by row, "published before 2026-01-01" took 47,328 rows and about 1 s with the posts out of the
    buffer pool on the benchmark data set."""
    statement, plan = page_plan(login_as("administrator"), url)
    if db.engine.dialect.name != "sqlite":
        assert "ix_post_updated_dates" in plan and "Using index" in plan, (statement, plan)
        assert "filesort" not in plan, (statement, plan)
    elif "_between=" not in url:  # SQLite, without statistics, reads a two-sided range through the date's index
        assert "USING COVERING INDEX ix_post_updated_dates" in plan, (statement, plan)


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("flt0_status_contains=RAF", {"Draft en", "Draft zh"}),
        ("flt0_status_contains=e", {"Review es", "Published en"}),
        ("flt0_status_contains=zzz", set()),
        ("flt0_status_contains=^pub", {"Published en"}),
        ("flt0_status_contains==draft", {"Draft en", "Draft zh"}),
        ("flt0_status_not_contains=e", {"Draft en", "Draft zh"}),
        ("flt0_status_not_contains=zzz", {"Draft en", "Draft zh", "Review es", "Published en"}),
        ("flt0_language_contains=Z", {"Draft zh"}),
        ("flt0_language_not_contains=e", {"Draft zh"}),
        ("flt0_status_contains=a&flt1_language_contains=en", {"Draft en"}),
    ],
)
def test_contains_on_a_status_or_a_language_lists_what_the_text_selects(login_as, users, query, listed):
    """The filter "contains" on a column of a few values (FewValuesContains) selects the rows whose value holds the
    text, ignoring case, as Flask-Admin's LIKE did, with its "^" (starts) and "=" (whole) prefixes."""
    made = {
        "Draft en": (PostStatus.DRAFT, "en"),
        "Draft zh": (PostStatus.DRAFT, "zh"),
        "Review es": (PostStatus.REVIEW, "es"),
        "Published en": (PostStatus.PUBLISHED, "en"),
    }
    for title, (status, locale) in made.items():
        make_post(users["author"], status, title=title, locale=locale)
    html = login_as("editor").get(f"/admin/post/?{query}").get_data(as_text=True)
    assert {title for title in made if title in html} == listed
    assert re.search(r"(\d+) rows? match", html).group(1) == str(len(listed))


def test_not_contains_on_a_language_leaves_out_accounts_without_one(login_as, users):
    """As with the LIKE, an account with no language saved is listed by neither "contains" nor "not contains"."""
    users["reader"].locale = None
    users["author"].locale = "es"
    users["editor"].locale = "en"
    db.session.commit()
    admin = login_as("administrator")
    emails = {role: user.email for role, user in users.items()}

    def listed(query: str) -> set[str]:
        html = admin.get(f"/admin/user/?{query}").get_data(as_text=True)
        return {role for role, email in emails.items() if email in html}

    assert {"author", "editor"} <= listed("flt0_locale_not_contains=zh")
    assert "reader" not in listed("flt0_locale_not_contains=zh")
    assert listed("flt0_locale_contains=ES") >= {"author"}
    assert not listed("flt0_locale_contains=ES") & {"reader", "editor"}


def test_the_author_name_is_never_empty(login_as, users):
    """Every post has an author and every account a username: "author's username is empty" lists no post, "is not
    empty" every one (AuthorNameEmpty answers without reading the posts)."""
    made = [make_post(users[role], title=f"By the {role}") for role in ("author", "editor")]
    editor = login_as("editor")
    empty = editor.get("/admin/post/?flt0_author_user_username_empty=1").get_data(as_text=True)
    assert "0 rows match." in empty and not any(post.title in empty for post in made)
    held = editor.get("/admin/post/?flt0_author_user_username_empty=0").get_data(as_text=True)
    assert "2 rows match." in held and all(post.title in held for post in made)


@pytest.mark.parametrize("descending", [False, True])
def test_posts_sorted_by_author_page_in_the_same_order_with_or_without_a_filter(login_as, users, descending):
    """Sorted by author with no filter, PostView.page_ids walks the authors' usernames and puts each author's posts
    in id order; with a filter the database sorts. Both give the order of (username, id), each post once, across
    pages whose first ends inside an author's posts."""
    authors = [users["translator"], users["author"], users["moderator"]]
    made = [make_post(authors[n % 3], title=f"Sorted {n:02d}") for n in range(27)]  # the authors' ids interleave
    expected = [post.id for post in sorted(made, key=lambda post: (post.author.username, post.id), reverse=descending)]
    editor = login_as("editor")
    order = "&desc=1" if descending else ""

    def listed(extra: str = "") -> list[int]:
        shown = []
        for page in (0, 1):
            html = editor.get(f"/admin/post/?sort=1{order}&page_size=20&page={page}{extra}").get_data(as_text=True)
            shown += [int(key) for key in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)]
        return shown

    assert listed() == expected
    assert listed("&flt0_status_not_equal=archived") == expected


def test_an_author_sorting_by_author_sees_only_their_own_posts(login_as, users):
    own = [make_post(users["author"], title=f"Own {n}") for n in range(3)]
    other = make_post(users["editor"], title="Not theirs")
    html = login_as("author").get("/admin/post/?sort=1").get_data(as_text=True)
    assert all(post.title in html for post in own) and other.title not in html


@pytest.mark.parametrize(
    "arguments, listed",
    [
        ({"flt0_published_at_equals": "2026-11-09 10:00:00"}, {"On the second", "Half a second in"}),
        ({"flt0_published_at_not_equal": "2026-11-09 10:00:00"}, {"A second later"}),
        ({"flt0_published_at_greater_than": "2026-11-09 10:00:00"}, {"A second later"}),
        ({"flt0_published_at_smaller_than": "2026-11-09 10:00:01"}, {"On the second", "Half a second in"}),
        ({"flt0_published_at_between": "2026-11-09 09:00:00 to 2026-11-09 10:00:00"},
         {"On the second", "Half a second in"}),
        ({"flt0_published_at_not_between": "2026-11-09 09:00:00 to 2026-11-09 10:00:00"}, {"A second later"}),
        ({"flt0_published_at_greater_than": "9999-12-31 23:59:59"}, set()),
        ({"flt0_published_at_between": "2026-11-09 10:00:01 to 9999-12-31 23:59:59"}, {"A second later"}),
    ],
)  # fmt: skip
def test_a_moment_in_a_filter_is_the_whole_second_it_names(login_as, users, arguments, listed):
    """Stored moments keep microseconds, a filter's moment is given to the second: "between … and 10:00:00" left
    out 10:00:00.5, and "equals 10:00:00" found only the post at exactly .000000."""
    base = utcnow().replace(year=2026, month=11, day=9, hour=10, minute=0, second=0, microsecond=0)
    titles = {"On the second": base, "Half a second in": base + timedelta(microseconds=500_000),
              "A second later": base + timedelta(seconds=1)}  # fmt: skip
    for title, moment in titles.items():
        make_post(users["editor"], "published", title=title, published_at=moment)
    make_post(users["editor"], "draft", title="Never published", published_at=None)
    response = login_as("editor").get("/admin/post/", query_string=arguments)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert {title for title in [*titles, "Never published"] if title in html} == listed


@pytest.mark.parametrize(
    ("search", "listed"),
    [
        ("50%", {"50%off"}),
        ("%", {"50%off"}),
        ("a_b", {"a_b"}),
        ("_", {"a_b"}),
        ("x/y", {"x/y"}),
        ("^50", {"50%off", "500ml"}),
        ("=a_b", {"a_b"}),
        ("=a", set()),
        ("AXB", {"axb"}),
        ("50 off", {"50%off"}),
    ],
)
def test_a_lists_search_matches_percent_and_underscore_as_typed(app, login_as, users, search, listed):
    """The search box of a list without a search index (here the blocked words) finds the text as typed: "%" and
    "_" are characters, not LIKE's wildcards, which listed every word for "%" and "axb" for "a_b"."""
    words = ["50%off", "500ml", "a_b", "axb", "x/y"]
    db.session.add_all(BlockedWord(word=word) for word in words)
    db.session.commit()
    html = login_as("moderator").get("/admin/blockedword/", query_string={"search": search}).get_data(as_text=True)
    assert {word for word in words if f">{word}<" in html.replace("\n", "").replace(" ", "")} == listed


@pytest.mark.parametrize(
    ("argument", "listed"),
    [
        ("flt0_to_contains=r_a", {"r_a@example.com"}),
        ("flt0_to_contains=%25", {"100%25@example.com"}),
        ("flt0_to_not_contains=_", {"rxa@example.com", "100%25@example.com"}),
        ("flt0_to_contains=^R", {"r_a@example.com", "rxa@example.com"}),
    ],
)
def test_a_contains_filter_matches_percent_and_underscore_as_typed(app, login_as, users, argument, listed):
    """A "contains" filter (here the outbox's "To") reads "%" and "_" in its text as typed."""
    recipients = ["r_a@example.com", "rxa@example.com", "100%@example.com"]
    for recipient in recipients:
        db.session.add(OutgoingMail(recipient=recipient, kind="invitation", sender="no-reply@cms.localhost",
                                    subject="s", body="b"))  # fmt: skip
    db.session.commit()
    html = login_as("administrator").get(f"/admin/outbox/?{argument}").get_data(as_text=True)
    shown = {recipient.replace("%", "%25") for recipient in recipients if recipient in html}
    assert shown == listed
