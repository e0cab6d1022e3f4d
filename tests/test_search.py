"""The console's searches (cms/search.py) find exactly what a plain substring search finds, through the index."""

import importlib.util
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask_migrate import upgrade

from cms import search
from cms.accounts import create_user, ensure_default_roles
from cms.cli import MIGRATIONS_DIR
from cms.extensions import db
from cms.models import Comment, Post, User
from tests.factories import make_comment, make_post
from tests.support.database import StatementCounter, backend_of, drop_everything, make_app
from tests.support.web import PASSWORD, assert_counted_to_the_cap

BODIES = [
    "Hello world, this is great",
    "La canción del niño es preciosa",
    "CANCIÓN para el NIÑO",
    "una cancion sin acento",
    "北京欢迎你",
    "我爱数据库",
    "数据库 is the best database",
    "mix 北京 and Beijing",
    "ok",
    "OK computer",
    "it ends with ok",
    "50% off_now",
    'She said "a* OR (b" loudly',
    "AND NOT -minus (paren) col:on",
    "back\\slash path",
    "tab\tseparated and new\nline",
    "Ünïcödé ümläuts",
    "hyphen-ated word-play",
    "emoji 😀 party",
    "x",
    "a",
]
QUERIES = [
    "hello", "HELLO", "ell", "wor", "o", "k", "ok", "OK", "oK computer", "hello great", "great hello",
    "hello missing", "canción", "CANCIÓN", "Canción", "cancion", "niño", "NIÑO", "ñ", "Ñ", "ción", "ci",
    "北京", "京", "北京欢迎你", "欢迎", "数据库", "据", "数据库 best", "Beijing 北京", "你",
    '"a* OR (b', '"', "*", "a*", "(", "(b", "AND", "OR", "NOT", "-", "-minus", "col:on", ":", "%", "_", "off_",
    "50%", "\\", "back\\slash", "^", "[", "]", "?", "ümläuts", "ÜML", "ünï", "😀", "a", "x", "hyphen-ated",
    "-ated", "tab separated", "new line", "", "   ", "the the", "zzzz",
]  # fmt: skip


def expected(bodies: dict[int, str], text: str) -> set[int]:
    """The plain substring search: every whitespace-separated term in the text, ignoring case."""
    terms = text.lower().split()
    return {key for key, body in bodies.items() if all(term in body.lower() for term in terms)}


def ids(model, clause) -> set[int]:
    db.session.rollback()  # what the other connections committed (MariaDB's repeatable read)
    return set(db.session.scalars(sa.select(model.id).where(clause)))


def mismatches(model, clause_for, bodies: dict[int, str]) -> dict[str, tuple[set[int], set[int]]]:
    found = {}
    for text in QUERIES:
        got, want = ids(model, clause_for(text)), expected(bodies, text)
        if got != want:
            found[text] = (got, want)
    return found


@pytest.fixture(autouse=True)
def plan_by_matches_alone(app, monkeypatch):
    """The tests here choose a page's plan by SEARCH_COMMON_MATCHES alone: in their tables of a few rows, every
    term would be common by SEARCH_COMMON_SHARE, which has its own test (and turns it on there)."""
    monkeypatch.setitem(app.config, "SEARCH_COMMON_SHARE", 0)


@pytest.fixture
def corpus(users):
    post = make_post(users["author"], "published", title="Corpus")
    return {make_comment(users["reader"], post, body=body).id: body for body in BODIES}


def test_the_index_is_in_use(app):
    if backend_of(app) == "sqlite":
        assert search.engine_in_use() == search.FTS5
    else:
        support = db.session.scalar(sa.text("SELECT support FROM information_schema.engines WHERE engine = 'Mroonga'"))
        assert search.engine_in_use() == (search.MROONGA if support in ("YES", "DEFAULT") else search.LIKE)


def test_comment_bodies_match_the_substring_search(corpus):
    assert mismatches(Comment, search.comment_body_clause, corpus) == {}


def test_post_titles_and_slugs_match_the_substring_search(users):
    posts = {}
    for n, title in enumerate(BODIES):
        post = make_post(users["author"], title=title.replace("\n", " ").replace("\t", " "), slug=f"slug-{n}-ñandú")
        posts[post.id] = f"{post.title}\n{post.slug}"  # a term may be in either, never across both
    assert mismatches(Post, search.post_title_clause, posts) == {}
    assert ids(Post, search.post_title_clause("slug-3")) == {p for p, text in posts.items() if "slug-3" in text}
    assert len(ids(Post, search.post_title_clause("ÑANDÚ"))) == len(BODIES)


def test_accounts_match_the_substring_search(app):
    names = ["Alice Martín", "王小明", "Bob O'Neil", None, "José Niño"]
    accounts = {}
    for n, name in enumerate(names):
        user = create_user(f"person{n}@example.com", PASSWORD, ["Reader"], username=f"member{n}x")
        user.name = name
        db.session.commit()
        accounts[user.id] = "\n".join(filter(None, [user.email, user.username, user.name]))
    queries = ["alice", "MARTÍN", "martin", "王", "小明", "o'neil", "member", "r3x", "x", "@", "example.com", "niño",
               "person4 josé", "person1 alice", "%", "_", '"', "3x", "ber0"]  # fmt: skip
    for text in queries + QUERIES:
        assert ids(User, search.user_clause(text)) == expected(accounts, text), text


def test_an_author_term_is_an_exact_username_or_email(users, corpus):
    post = make_post(users["author"], "published")
    by_editor = make_comment(users["editor"], post, body="Nothing to see").id
    about_editor = make_comment(users["reader"], post, body="ask the EDITOR please").id
    hello = {key for key, body in corpus.items() if "hello" in body.lower()}

    def found(text):
        return ids(Comment, search.comment_clause(text))

    assert found("editor") == {by_editor, about_editor}
    assert found("EDITOR@example.com") == {by_editor}
    assert found("edit") == {about_editor}  # a fragment of a username is only a body search
    assert found("editor please") == {about_editor}
    assert found("reader hello") == hello
    assert found("reader editor") == {about_editor}
    assert found("reader") == set(corpus) | {about_editor}


def test_edits_and_deletions_keep_the_index_in_sync(users):
    post = make_post(users["author"], "published", title="Crónica de Pekín")
    other = make_post(users["author"], "published", title="Another")
    first = make_comment(users["reader"], post, body="primero 北京")
    second = make_comment(users["reader"], other, body="segundo 北京")

    first.body = "cambiado 上海"
    post.title = "Crónica de Shanghái"
    users["reader"].name = "Lectora Nueva"
    db.session.commit()
    assert ids(Comment, search.comment_body_clause("北京")) == {second.id}
    assert ids(Comment, search.comment_body_clause("cambiado 上海")) == {first.id}
    assert ids(Post, search.post_title_clause("pekín")) == set()
    assert ids(Post, search.post_title_clause("shanghái")) == {post.id}
    assert ids(User, search.user_clause("lectora")) == {users["reader"].id}
    assert_index_in_sync()

    db.session.delete(second)
    db.session.delete(post)  # its comments go by ON DELETE CASCADE
    db.session.commit()
    assert ids(Comment, search.comment_body_clause("上海")) == set()
    assert ids(Comment, search.comment_body_clause("北京")) == set()
    assert ids(Post, search.post_title_clause("crónica")) == set()
    assert_index_in_sync()

    make_comment(users["editor"], other, body="tercero")
    db.session.delete(users["author"])  # takes their posts, and the comments on them, along
    db.session.commit()
    assert ids(Comment, search.comment_body_clause("tercero")) == set()
    assert ids(User, search.user_clause("author")) == set()
    assert ids(Post, search.post_title_clause("another")) == set()
    assert_index_in_sync()


SEARCHED = {"comment_search": ("comment", "body"), "post_search": ("post", "title", "slug"),
            "user_search": ("user", "email", "username", "name")}  # fmt: skip


def assert_index_in_sync() -> None:
    """Every search table indexes exactly the rows of its table, as they are now."""
    db.session.rollback()
    for table, (source, *columns) in SEARCHED.items():
        if db.engine.dialect.name == "sqlite":
            # FTS5 compares its index with the content table and raises when they differ.
            db.session.execute(sa.text(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')"))  # noqa: S608
        elif search.engine_in_use() == search.MROONGA:
            indexed, actual = (
                db.session.execute(sa.select(sa.table(name, sa.column("id"), *map(sa.column, columns))).order_by("id"))
                for name in (table, source)
            )
            # Mroonga keeps no NULL: an account without a name has '' there.
            assert indexed.all() == [tuple("" if v is None else v for v in row) for row in actual], table


@pytest.mark.parametrize(
    "text", ["hello", "canción", "NIÑO", "北京", "数据库", "ok", "reader hello", '"a* OR (b', "%", "_", "\\"]
)
def test_console_search_lists_the_same_comments(login_as, users, text):
    post = make_post(users["author"], "published", title="Console")
    bodies = ["Hello there", "canción", "niño", "北京欢迎你", "数据库", "ok", "50% _x_", "back\\slash"]
    labels = {make_comment(users["reader"], post, body=f"{body} [{n}]").id: f"[{n}]" for n, body in enumerate(bodies)}
    body_terms = [term for term in text.split() if term != "reader"]  # the author of every comment
    want = {f"[{n}]" for n, body in enumerate(bodies) if all(term.lower() in body.lower() for term in body_terms)}
    response = login_as("moderator").get("/admin/comment/", query_string={"search": text})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert {label for label in labels.values() if label in html} == want


def test_console_lists_search_posts_and_accounts(login_as, users):
    make_post(users["author"], title="Canción de cuna", slug="cancion-de-cuna")
    make_post(users["author"], title="北京指南", slug="beijing")
    admin = login_as("administrator")
    posts = admin.get("/admin/post/", query_string={"search": "CIÓN"}).get_data(as_text=True)
    assert "Canción de cuna" in posts and "北京指南" not in posts
    posts = admin.get("/admin/post/", query_string={"search": "北京"}).get_data(as_text=True)
    assert "北京指南" in posts and "Canción de cuna" not in posts
    accounts = admin.get("/admin/user/", query_string={"search": "ODERAT"}).get_data(as_text=True)
    assert "moderator@example.com" in accounts and "reader@example.com" not in accounts
    assert admin.get("/admin/user/", query_string={"search": '"a* OR (b'}).status_code == 200


def _undo_search_migration() -> None:
    """Run the search tables' migration's downgrade alone, keeping what later migrations added (columns the models
    write): the schema of a database migrated where Mroonga was missing."""
    [path] = Path(MIGRATIONS_DIR, "versions").glob("fbe713ff82b3_*.py")
    spec = importlib.util.spec_from_file_location("search_tables_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()


def test_without_search_tables_the_search_falls_back_to_like(app, tmp_path):
    """A MariaDB without Mroonga when the migration ran (or a database migrated only so far) still searches."""
    bare = make_app(backend_of(app), tmp_path)
    with bare.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR)
        _undo_search_migration()
        try:
            ensure_default_roles()
            author = create_user("writer@example.com", PASSWORD, ["Author"], username="writer")
            post = make_post(author, "published")
            bodies = {make_comment(author, post, body=body).id: body for body in BODIES}
            assert search.engine_in_use() == search.LIKE
            assert mismatches(Comment, search.comment_body_clause, bodies) == {}
        finally:
            db.session.rollback()
            drop_everything(db.engine)
            upgrade(directory=MIGRATIONS_DIR)


def test_a_common_terms_page_walks_the_lists_order_and_finds_the_same_comments(app, corpus, monkeypatch):
    """Above SEARCH_COMMON_MATCHES index matches, a page is read along the list's order (MariaDB with Mroonga);
    the rows are the same as through the match set, and the count still comes from the match set."""
    if search.engine_in_use() != search.MROONGA:
        assert search.comment_page_clause("ok") is None  # SQLite, or no index: one plan only
        return
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 2)
    assert search.comment_page_clause("ok") is not None  # "ok" is in 3 bodies: more than 2
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 3)
    assert search.comment_page_clause("ok") is None
    for text in ("ok", "canción", "北京", "hello great"):
        walked = search.comment_clause(text, use_index=False)
        assert ids(Comment, walked) == ids(Comment, search.comment_clause(text)) == expected(corpus, text), text


def test_the_console_shows_the_same_page_and_count_on_either_plan(app, login_as, corpus, monkeypatch):
    browser = login_as("moderator")
    pages = []
    for common in (1, 10_000):
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
        html = browser.get("/admin/comment/", query_string={"search": "ok"}).get_data(as_text=True)
        pages.append(({body for body in corpus.values() if f"<p>{body}</p>" in html}, "3 rows match." in html))
    assert pages[0] == pages[1] == ({"ok", "OK computer", "it ends with ok"}, True)


def test_a_common_term_with_another_filter_counts_within_a_budget(app, login_as, users, monkeypatch):
    """A common term and a status: counting every match would read them all, so the count reads at most
    LIST_COUNT_CAP comments of the status and says "more than" when there are more."""
    post = make_post(users["author"], "published", title="Budget")
    for n in range(6):
        make_comment(users["reader"], post, body=f"common word {n}", status="pending")
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 1)
    browser = login_as("moderator")
    url = "/admin/comment/?flt0_status_equals=pending&search=common"
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 6)
    assert "6 rows match." in browser.get(url).get_data(as_text=True)
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 4)
    assert "More than 4 rows match." in browser.get(url).get_data(as_text=True)
    assert "6 rows match." in browser.get(url + "&exact_count=1").get_data(as_text=True)


def test_a_search_counts_to_the_cap_and_says_more_than_beyond_it(app, login_as, corpus, monkeypatch):
    """ "ok" is in 3 bodies: a cap of 3 shows the count, a cap of 2 "more than 2", with the exact count a click away."""
    assert_counted_to_the_cap(app, monkeypatch, login_as("moderator"), "/admin/comment/?search=ok", 3)


def test_a_search_page_asks_the_full_text_index_once(app, login_as, corpus, monkeypatch):
    """Whether the terms are common and how many comments hold them is one count in the search table, not one
    look-up for each (Mroonga runs every MATCH's look-up in full, tens of ms for a common word)."""
    browser = login_as("moderator")
    for common in (1, 10_000):  # both plans: along the list's order, and through the match set
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
        with StatementCounter(db.engine) as counter:
            html = browser.get("/admin/comment/?search=ok").get_data(as_text=True)
        assert "3 rows match." in html
        looked_up = [s for s in counter.statements if "MATCH" in s or "comment_search" in s]
        if search.engine_in_use() == search.MROONGA:
            assert len(looked_up) == (1 if common == 1 else 2), looked_up  # the count; the match set for rare
        assert len([s for s in counter.statements if "user.username IN" in s]) <= 1  # authors looked up once


# -- the post and account lists: common terms along the list's order, counts from the search table ----------
TITLES = ["Budget vote today", "Budget cuts", "A budget for schools", "Weather", "Sports roundup"]


@pytest.fixture
def titled_posts(users):
    """Three of five posts by the author hold "budget", one by the editor too; slugs hold nothing searched."""
    posts = {make_post(users["author"], title=title, slug=f"p-{n}").id: title for n, title in enumerate(TITLES)}
    posts[make_post(users["editor"], title="The editor’s budget note", slug="p-editor").id] = "The editor’s budget note"
    return posts


def listed_titles(html: str, titles) -> set[str]:
    return {title for title in titles if title in html}


@pytest.mark.parametrize("common", [1, 10_000])  # 1: every term is common (on Mroonga); 10,000: none is
def test_a_post_search_lists_and_counts_the_same_on_either_plan(app, login_as, titled_posts, monkeypatch, common):
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
    editor = login_as("editor")
    html = editor.get("/admin/post/?search=BUDGET").get_data(as_text=True)
    assert "4 rows match." in html
    assert listed_titles(html, titled_posts.values()) == {t for t in titled_posts.values() if "budget" in t.lower()}
    assert_counted_to_the_cap(app, monkeypatch, editor, "/admin/post/?search=budget", 4)


@pytest.mark.parametrize("common", [1, 10_000])
def test_an_authors_post_search_counts_only_the_posts_they_may_see(app, login_as, titled_posts, monkeypatch, common):
    """The search table holds every post: an author, who sees their own, is counted within their row rule."""
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
    html = login_as("author").get("/admin/post/?search=budget").get_data(as_text=True)
    assert "3 rows match." in html and "The editor’s budget note" not in html


@pytest.mark.parametrize("common", [1, 10_000])
def test_a_common_post_term_with_a_filter_counts_within_a_budget(app, login_as, users, monkeypatch, common):
    """With a filter, a common term is counted among the first LIST_COUNT_CAP posts the filter selects ("more
    than" past them), the exact count a click away; a rare one through its matches, to the cap."""
    for n in range(6):
        make_post(users["author"], "review", title=f"Common word {n}", slug=f"common-{n}")
    make_post(users["author"], "draft", title="Common draft", slug="common-draft")
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
    assert_counted_to_the_cap(
        app, monkeypatch, login_as("editor"), "/admin/post/?flt0_status_equals=review&search=common", 6
    )


@pytest.mark.parametrize("common", [1, 10_000])
def test_an_account_search_lists_and_counts_the_same_on_either_plan(app, login_as, users, monkeypatch, common):
    for n in range(4):
        create_user(f"desk{n}@newsroom.example.com", PASSWORD, ["Reader"], username=f"deskhand{n}")
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
    admin = login_as("administrator")
    html = admin.get("/admin/user/?search=NEWSROOM.example").get_data(as_text=True)
    assert "4 rows match." in html
    assert {f"desk{n}@newsroom.example.com" for n in range(4)} <= set(
        re.findall(r"desk\d@newsroom\.example\.com", html)
    )
    assert "reader@example.com" not in html
    assert_counted_to_the_cap(app, monkeypatch, admin, "/admin/user/?search=deskhand", 4)
    # With a filter, a common term is counted among the first LIST_COUNT_CAP accounts the filter selects (10).
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 10)
    assert "4 rows match." in admin.get("/admin/user/?search=deskhand&flt0_active_equals=1").get_data(as_text=True)
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 2)
    url = "/admin/user/?search=deskhand&flt0_active_equals=1&exact_count=1"
    assert "4 rows match." in admin.get(url).get_data(as_text=True)


def test_a_post_term_is_common_above_search_common_matches(app, titled_posts, monkeypatch):
    """ "budget" is in 4 titles: with a threshold of 3 it is common (a page walks the list's order), with 4 not."""
    if search.engine_in_use() != search.MROONGA:
        assert search.page_clause(search.POST_TITLES, "budget") is None  # SQLite, or no index: one plan only
        return
    with app.test_request_context():
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 3)
        walked = search.page_clause(search.POST_TITLES, "budget")
        assert walked is not None
        assert (
            ids(Post, walked)
            == ids(Post, search.post_title_clause("budget"))
            == {key for key, title in titled_posts.items() if "budget" in title.lower()}
        )
    with app.test_request_context():
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 4)
        assert search.page_clause(search.POST_TITLES, "budget") is None


def test_a_term_in_a_share_of_the_rows_is_common(app, users, titled_posts, monkeypatch):
    """SEARCH_COMMON_SHARE at its boundary: "budget" is in 4 of 8 posts (their ids span 8), fewer than
    SEARCH_COMMON_MATCHES; at a share of 0.5 it is common (a page walks the list's order and finds the same posts),
    at 0.51 it is not, and 0 turns the share off. "weather" (1 of 8) is common from a share of 0.125."""
    for n in range(2):
        make_post(users["author"], title=f"Filler {n}", slug=f"filler-{n}")
    if search.engine_in_use() != search.MROONGA:
        assert search.page_clause(search.POST_TITLES, "budget") is None  # SQLite, or no index: one plan only
        return

    def walks(text: str, share: float) -> bool:
        monkeypatch.setitem(app.config, "SEARCH_COMMON_SHARE", share)
        with app.test_request_context():
            walked = search.page_clause(search.POST_TITLES, text)
            if walked is not None:
                assert ids(Post, walked) == ids(Post, search.post_title_clause(text))
            return walked is not None

    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 10_000)
    assert [walks("budget", share) for share in (0.5, 0.51, 0)] == [True, False, False]
    assert [walks("weather", share) for share in (0.125, 0.126)] == [True, False]
    assert not walks("nowhere", 0.125)  # no match is never common


def test_an_account_search_page_asks_the_full_text_index_once(app, login_as, users, monkeypatch):
    """The list's count is the search table's, the same statement that tells whether the term is common: no
    second count of the accounts through the index."""
    admin = login_as("administrator")
    for common in (1, 10_000):
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", common)
        with StatementCounter(db.engine) as counter:
            html = admin.get("/admin/user/?search=example.com").get_data(as_text=True)
        assert f"{len(users)} rows match." in html
        looked_up = [s for s in counter.statements if "MATCH" in s or "user_search" in s]
        if search.engine_in_use() == search.MROONGA:
            assert len(looked_up) == (1 if common == 1 else 2), looked_up  # the count; the match set for rare


def test_a_term_every_newest_row_holds_is_counted_without_the_index(app, login_as, users, monkeypatch):
    """SEARCH_PROBE_ROWS at its boundary: when each of the newest accounts holds the term (every email here ends in
    example.com), the count reads the newest LIST_COUNT_CAP + 1 accounts and asks no index; a probe longer than
    the table, or a term most newest rows lack ("mod"), leaves the count to the index."""
    admin = login_as("administrator")
    accounts = len(users)
    mroonga = search.engine_in_use() == search.MROONGA  # elsewhere the index (FTS5) counts every search
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 1)  # pages along the list's order: no MATCH there

    def count(text: str, probe: int, cap: int) -> tuple[str, bool]:
        monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", probe)
        monkeypatch.setitem(app.config, "LIST_COUNT_CAP", cap)
        with StatementCounter(db.engine) as counter:
            html = admin.get(f"/admin/user/?search={text}").get_data(as_text=True)
        shown = re.search(r'id="list-count">\s*(.*?)\s*(<a|</p>)', html, re.S).group(1)
        return shown, any("MATCH" in s for s in counter.statements)

    assert count("example.com", accounts, accounts - 1) == (f"More than {accounts - 1} rows match.", not mroonga)
    assert count("example.com", accounts, accounts) == (f"{accounts} rows match.", not mroonga)  # the table ends
    assert count("example.com", accounts + 1, accounts) == (f"{accounts} rows match.", True)
    assert count("mod", accounts, accounts) == ("1 row matches.", True)  # the moderator: not frequent either
    assert count("example.com", 0, accounts) == (f"{accounts} rows match.", True)  # 0: no probe


ZEBRAS = ["Zebra alpha", "Zebra bravo", "Plain charlie", "Zebra delta", "Plain echo", "Zebra foxtrot", "Plain golf",
          "Zebra hotel"]  # fmt: skip


def test_a_term_most_newest_rows_hold_is_listed_and_counted_without_the_index(app, login_as, users, monkeypatch):
    """SEARCH_FREQUENT_SHARE at its boundary: with a probe of the 4 newest posts, "zebra" (in 2 of them) is
    frequent at a share of 0.5 and not at 0.75, "hotel" (in 1) at neither. A frequent term's page walks the list's
    order and its count reads the older posts, up to the cap, without the index (a single letter cost Mroonga 68
    ms over the benchmark's titles): the same rows and the same count as through the index, "more than" past the
    cap, and the exact count (the index's) a click away."""
    for n, title in enumerate(ZEBRAS):
        make_post(users["editor"], title=title, slug=f"s-{n}")
    mroonga = search.engine_in_use() == search.MROONGA  # elsewhere the index (FTS5) counts every search
    admin = login_as("administrator")
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", 4)

    def shown(text: str, share: float, cap: int, exact: bool = False) -> tuple[str, bool]:
        monkeypatch.setitem(app.config, "SEARCH_FREQUENT_SHARE", share)
        monkeypatch.setitem(app.config, "LIST_COUNT_CAP", cap)
        with StatementCounter(db.engine) as counter:
            html = admin.get(f"/admin/post/?search={text}" + ("&exact_count=1" if exact else "")).get_data(as_text=True)
        assert listed_titles(html, ZEBRAS) == {title for title in ZEBRAS if text in title.lower()}
        count = re.search(r'id="list-count">\s*(.*?)\s*(<a|</p>)', html, re.S).group(1)
        return count, any("MATCH" in s for s in counter.statements)

    assert shown("zebra", 0.5, 10) == ("5 rows match.", not mroonga)  # the 4 older posts and the probe's
    assert shown("zebra", 0.5, 5) == ("5 rows match.", not mroonga)
    assert shown("zebra", 0.5, 4) == ("More than 4 rows match.", not mroonga)  # the older posts end within the cap
    assert shown("zebra", 0.5, 3) == ("More than 3 rows match.", not mroonga)  # they do not: 3 among the oldest
    assert shown("zebra", 0.5, 3, exact=True) == ("5 rows match.", True)
    assert shown("zebra", 0.75, 3) == ("More than 3 rows match.", True)
    assert shown("hotel", 0.5, 10) == ("1 row matches.", True)
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", 0)  # off
    assert shown("zebra", 0.5, 10) == ("5 rows match.", True)


@pytest.mark.parametrize("holders", [10_000, 0])  # 0: a frequent term's holders are always too many to list
@pytest.mark.parametrize("probe", [2, 0])  # 2: each term below is frequent (on Mroonga), read from its column; 0: off
def test_a_column_filter_matches_that_column_alone_on_either_plan(
    app, users, titled_posts, monkeypatch, probe, holders
):
    """contains_clause (the filters "post title contains", "author's username contains"): the text, whole and
    ignoring case, in the one column, never in the table's other searched columns that its index also holds; a
    frequent term by its holders' ids or compared on each row (more holders than SEARCH_COMMON_MATCHES)."""
    make_post(users["author"], title="Weekly review", slug="budget-week")  # "budget" in the slug only
    monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", holders)
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", probe)
    monkeypatch.setitem(app.config, "SEARCH_FREQUENT_SHARE", 0.01)  # one of the newest two holds it
    with app.test_request_context():
        titled = ids(Post, search.contains_clause(search.POST_TITLES, "title", "BUDGET"))
        assert titled == {key for key, title in titled_posts.items() if "budget" in title.lower()}
        assert ids(Post, search.contains_clause(search.POST_TITLES, "title", "budget vote")) == {
            key for key, title in titled_posts.items() if title == "Budget vote today"
        }
        assert ids(User, search.contains_clause(search.ACCOUNTS, "username", "EDIT")) == {users["editor"].id}
        assert ids(User, search.contains_clause(search.ACCOUNTS, "username", "example.com")) == set()  # emails
        assert ids(Post, search.contains_clause(search.POST_TITLES, "title", "  ")) == set(
            db.session.scalars(sa.select(Post.id))
        )


def test_a_frequent_terms_holders_are_listed_up_to_the_common_threshold(app, users, titled_posts, monkeypatch):
    """column_holders at SEARCH_COMMON_MATCHES: "budget" is in 4 titles (one more in a slug alone), listed at a
    threshold of 4 and too many at 3; "zebra" in none is an empty list."""
    make_post(users["author"], title="Weekly review", slug="budget-week")
    budget = {key for key, title in titled_posts.items() if "budget" in title.lower()}
    with app.test_request_context():
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 4)
        assert set(search.column_holders(search.POST_TITLES, "title", "BUDGET")) == budget
        assert search.column_holders(search.POST_TITLES, "title", "zebra") == []
    with app.test_request_context():
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 3)
        assert search.column_holders(search.POST_TITLES, "title", "budget") is None


def test_a_usernames_holders_are_found_in_the_usernames_alone_up_to_the_common_threshold(app, users, monkeypatch):
    """column_holders on the usernames, which on Mroonga have an index of their own (c2d6e8f1a4b9): "jose" is in
    three usernames, in either case and with an accent (a username is kept decomposed, as sign-in reads it: é is e
    and an accent), and not in the email of "other"; listed at a threshold of 3 and too many at 2."""
    accounts = {
        name: create_user(f"{address}@example.com", PASSWORD, ["Reader"], username=name).id
        for name, address in (("jose2", "a1"), ("JoseGarcia", "a2"), ("josé1", "a3"), ("other", "jose"))
    }
    with app.test_request_context(), StatementCounter(db.engine) as counter:
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 3)
        assert set(search.column_holders(search.ACCOUNTS, "username", "JOSE")) == {
            accounts["jose2"],
            accounts["JoseGarcia"],
            accounts["josé1"],
        }
        assert search.column_holders(search.ACCOUNTS, "username", "zebra") == []
    if search.engine_in_use() == search.MROONGA:  # through the usernames' index, not every username read
        read = [statement for statement in counter.statements if "instr" in statement]
        assert read and all("MATCH (user_search.username)" in statement for statement in read), read
    with app.test_request_context():
        monkeypatch.setitem(app.config, "SEARCH_COMMON_MATCHES", 2)
        assert search.column_holders(search.ACCOUNTS, "username", "jose") is None


@pytest.mark.parametrize("probe", [2, 0])  # 2: "budget" is frequent (on Mroonga), tested through each comment's post
def test_the_post_title_filter_lists_and_counts_the_same_comments_on_either_plan(
    app, login_as, users, titled_posts, monkeypatch, probe
):
    """The moderators' "post title contains" (referring_contains_clause): the comments of the posts whose title
    holds the text, never of a post holding it in its slug alone, listed and counted alike on either plan."""
    week = make_post(users["author"], title="Weekly review", slug="budget-week")
    for key, title in titled_posts.items():
        make_comment(users["reader"], db.session.get(Post, key), body=f"Comment on {title}")
    make_comment(users["reader"], week, body="Comment on the week")
    wanted = {f"Comment on {title}" for title in titled_posts.values() if "budget" in title.lower()}
    monkeypatch.setitem(app.config, "SEARCH_PROBE_ROWS", probe)
    monkeypatch.setitem(app.config, "SEARCH_FREQUENT_SHARE", 0.01)  # one of the newest two posts holds it
    moderator = login_as("moderator")
    html = moderator.get("/admin/comment/?status=all&flt0_post_title_contains=BUDGET").get_data(as_text=True)
    shown = {body for body in db.session.scalars(sa.select(Comment.body)) if body in html}
    assert shown == wanted
    assert f"{len(wanted)} rows match." in html
