"""The public site and the account forms readers use, in zh and es: no English left, localised formats."""

import re
from pathlib import Path

import polib
import pytest

from cms.extensions import db
from tests.factories import make_comment, make_post
from tests.support.web import Browserish

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
VISIBLE = re.compile(r"<(script|style|head)[^>]*>.*?</\1>", re.S)


def visible_text(html: str) -> str:
    text = re.sub(r"<[^>]+>", "\n", VISIBLE.sub(" ", html))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def english_ui_strings(locale: str) -> set[str]:
    """Every catalog message that has a different translation in `locale` and no placeholders."""
    strings = set()
    for name in ("messages.po", "flask_security.po"):
        for entry in polib.pofile(str(TRANSLATIONS / locale / "LC_MESSAGES" / name)):
            if entry.obsolete or entry.msgid_plural or "%" in entry.msgid or "{" in entry.msgid:
                continue
            if entry.msgstr and entry.msgstr != entry.msgid and len(re.findall(r"[A-Za-z]", entry.msgid)) > 3:
                strings.add(entry.msgid)
    return strings


@pytest.mark.parametrize("locale", ["zh", "es"])
@pytest.mark.parametrize("name", ["messages.po", "flask_security.po"])
def test_catalogs_are_complete(locale, name):
    catalog = polib.pofile(str(TRANSLATIONS / locale / "LC_MESSAGES" / name))
    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.fuzzy_entries()] == []


@pytest.fixture
def site(users):
    post = make_post(users["author"], "published", title="Only in English")
    make_comment(users["editor"], post, status="approved")
    return post


@pytest.mark.parametrize("locale", ["zh", "es"])
def test_no_english_left_on_public_pages(app, users, site, locale):
    anonymous = Browserish(app.test_client())
    reader = Browserish(app.test_client())
    reader.login(users["reader"].email)
    pages = {
        anonymous: [f"/{locale}/", f"/{locale}/posts/{site.slug}", f"/{locale}/authors/author",
                    f"/{locale}/authors/author/followers", f"/{locale}/nowhere", "/login", "/register", "/reset",
                    "/confirm"],
        reader: [f"/{locale}/", f"/{locale}/posts/{site.slug}", f"/{locale}/authors/author", f"/{locale}/following",
                 f"/{locale}/profile", "/change", "/admin/"],
    }  # fmt: skip
    english = english_ui_strings(locale)
    for browser, urls in pages.items():
        for url in urls:
            html = browser.get(url, headers={"Accept-Language": locale}).get_data(as_text=True)
            lines = set(visible_text(html).splitlines())
            left = sorted(lines & english)
            assert not left, f"{url} in {locale} still shows English: {left}"


def test_dates_and_numbers_follow_the_locale(client, users, site):
    site.published_at = site.published_at.replace(year=2026, month=3, day=9)
    db.session.commit()
    assert "2026年3月9日" in client.get(f"/zh/posts/{site.slug}").get_data(as_text=True)
    assert "9 de marzo de 2026" in client.get(f"/es/posts/{site.slug}").get_data(as_text=True)


@pytest.mark.parametrize(("locale", "title"), [("zh", "找不到页面"), ("es", "Página no encontrada")])
def test_error_pages_are_localised(client, locale, title):
    response = client.get(f"/{locale}/posts/none-such")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert title in html and f'<html lang="{locale}">' in html


@pytest.mark.parametrize(
    ("locale", "create", "with_selected"), [("zh", "创建", "选中的"), ("es", "Crear", "Con seleccionados")]
)
def test_staff_console_speaks_the_staff_members_language(login_as, users, locale, create, with_selected):
    users["editor"].locale = locale
    db.session.commit()
    html = login_as("editor").get("/admin/post/").get_data(as_text=True)
    assert create in html and with_selected in html


def test_account_pages_have_a_language_switcher_too(client):
    html = client.get("/login?next=%2Fadmin%2F").get_data(as_text=True)
    nav = html.split('class="languages"')[1].split("</nav>")[0]
    assert 'href="/login?next=/admin/&amp;lang=zh"' in nav
    chinese = client.get("/login?next=%2Fadmin%2F&lang=zh").get_data(as_text=True)
    assert '<html lang="zh">' in chinese and "登录" in chinese


@pytest.mark.parametrize("path", ["/login", "/register", "/reset", "/en/", "/nothing-here"])
@pytest.mark.parametrize(
    "query", ["endpoint=x", "_external=1", "_anchor=top", "_scheme=javascript", "locale=xx", "lang=zz"]
)
def test_the_language_switcher_takes_any_query_string(client, path, query):
    """The switcher carries the query string over as data: url_for's own arguments in it change nothing."""
    response = client.get(f"{path}?{query}")
    assert response.status_code < 500, (path, query, response.status_code)
    if response.status_code == 200:
        links = re.findall(r'<a [^>]*hreflang="\w+" href="([^"]*)"', response.get_data(as_text=True))
        assert links and all(link.startswith("/") and not link.startswith("//") for link in links), links


@pytest.mark.parametrize(
    ("locale", "notice"),
    [("zh", "尚未翻译成中文，以下是英语原文"), ("es", "traducido al español; aquí tienes el original en inglés")],
)
def test_the_fallback_notice_names_the_languages_in_the_readers_language(client, users, locale, notice):
    post = make_post(users["author"], "published", title="Only in English")
    html = client.get(f"/{locale}/posts/{post.slug}").get_data(as_text=True)
    shown = html.split('<p class="notice"')[1].split("</p>")[0]
    assert notice in shown
    assert "English" not in shown
