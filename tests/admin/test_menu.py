"""The console's main menu is kept rendered per permissions, language and view (admin_views/menu.py): each role
still sees only its own items, the page's item is the active one, and a catalog change shows new labels. Flask-Admin's
static files' links, built once too (admin_views/static_urls.py), follow each request's script root."""

import re

from admin_views.menu import EXTENSION


def menu_of(html: str) -> str:
    start = html.index('<ul class="nav navbar-nav mr-auto">')
    return html[start : html.index('<ul class="nav navbar-nav navbar-right">', start)]


def items(html: str) -> list[str]:
    return re.findall(r'href="(/admin/[a-z\-/]*)"', menu_of(html))


def test_each_role_sees_its_own_menu_whoever_asked_before(login_as):
    moderator, administrator = login_as("moderator"), login_as("administrator")
    for _ in range(2):  # the second round is served from the remembered menus
        mine = items(moderator.get("/admin/").get_data(as_text=True))
        theirs = items(administrator.get("/admin/").get_data(as_text=True))
        assert "/admin/comment/" in mine and "/admin/user/" not in mine and "/admin/role/" not in mine
        assert {"/admin/comment/", "/admin/user/", "/admin/role/"} <= set(theirs)


def test_the_pages_own_item_is_the_active_one(login_as):
    browser = login_as("administrator")
    for path in ("/admin/comment/", "/admin/post/", "/admin/comment/"):
        html = browser.get(path).get_data(as_text=True)
        active = re.findall(r'<li class="active">\s*<a class="nav-link " href="([^"]+)"', html)
        assert active == [path], (path, active)


def test_the_menu_is_in_the_pages_language(login_as):
    browser = login_as("administrator")
    assert ">\n        \n    \n  Comments</a>" in browser.get("/admin/?lang=en").get_data(as_text=True)
    assert "Comments</a>" not in menu_of(browser.get("/admin/?lang=es").get_data(as_text=True))


def test_menus_cached_keeps_that_many_and_the_next_evicts_the_oldest(app, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "CONSOLE_MENUS_CACHED", 2)
    app.extensions.pop(EXTENSION, None)
    browser = login_as("administrator")
    for path in ("/admin/", "/admin/post/"):
        browser.get(path)
    remembered = app.extensions[EXTENSION]
    assert [key[3] for key in remembered] == ["admin", "post"]
    browser.get("/admin/comment/")
    assert [key[3] for key in remembered] == ["post", "comment"]
    assert "/admin/comment/" in items(browser.get("/admin/").get_data(as_text=True))  # rendered again, the same
    assert [key[3] for key in remembered] == ["comment", "admin"]


# -- Flask-Admin's static files (admin_views/static_urls.py) --------------------------------------------------
def static_links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*/static/[^"]*)"', html)


def test_static_files_are_linked_under_each_requests_script_root(login_as):
    """The console behind a path prefix (SCRIPT_NAME) links its static files under it, whichever prefix asked first."""
    browser = login_as("administrator")
    plain = static_links(browser.get("/admin/comment/").get_data(as_text=True))
    assert "/admin/static/vendor/jquery.min.js?v=3.5.1" in plain
    assert "/admin/static/admin/css/bootstrap4/admin.css?v=1.1.1" in plain
    prefixed = browser.get("/admin/comment/", base_url="http://localhost/newsroom/").get_data(as_text=True)
    assert static_links(prefixed) == ["/newsroom" + link for link in plain]
    assert static_links(browser.get("/admin/comment/").get_data(as_text=True)) == plain


def test_static_file_urls_are_what_url_for_builds(app, login_as):
    from flask import url_for

    browser = login_as("administrator")
    links = static_links(browser.get("/admin/post/").get_data(as_text=True))
    with app.test_request_context("/admin/post/"):
        built = url_for("admin.static", filename="vendor/jquery.min.js", v="3.5.1")
    assert built in links and len(links) >= 10
