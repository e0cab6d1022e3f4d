"""The console's lists, details and forms in the staff member's language: column headers, filter names, the
permissions' check boxes and a held comment's reason, where Flask-Admin's own labels ("Created At", "roles / Role /
Name") and the English kept in the database showed through on es and zh pages."""

import re

import pytest

from cms.comments import add_comment
from cms.extensions import db
from cms.models import BlockedWord, Follow, MailStatus, OutgoingMail
from tests.factories import make_post

# (page, what it shows in Spanish, in Chinese, the English it showed)
PAGES = [
    (
        "/admin/user/",
        ["Miembro desde", "Última visita", "Confirmada"],
        ["加入时间", "最近访问", "确认时间"],
        "Member Since",
    ),
    ("/admin/role/", ["Descripción", "Permisos", "escribir, moderar"], ["描述", "权限", "撰写, 审核"], "Permissions"),
    ("/admin/role/new/", ["Escribir", "Traducir", "Administrar"], ["撰写", "翻译", "管理"], "Translate"),
    ("/admin/follow/", ["Seguidor", "Seguido", "Creado"], ["关注者", "被关注者", "创建时间"], "Created At"),
    ("/admin/audit/", ["Acción", "Resumen"], ["操作", "摘要"], "Summary"),
    ("/admin/blockedword/", ["Palabra", "Creado por"], ["词语", "创建者"], "Created By"),
    ("/admin/outbox/", ["Asunto", "Estado", "Fallido"], ["主题", "状态", "失败"], "Subject"),
    (
        "/admin/comment/?status=all",
        ["Creado", "palabra bloqueada: casino"],
        ["创建时间", "屏蔽词：casino"],
        "blocked word",
    ),
]


@pytest.fixture
def console_rows(users):
    """A follow, a blocked word, a comment held for it and a failed mail, so each list has a row to label."""
    db.session.add(Follow(follower_id=users["reader"].id, followed_id=users["author"].id))
    db.session.commit()
    db.session.add(BlockedWord(word="casino", created_by_id=users["moderator"].id))
    db.session.commit()
    add_comment(users["reader"], make_post(users["author"], "published", title="Odds"), "Play casino now")
    db.session.add(OutgoingMail(kind="invitation", recipient="x@example.com", sender="no-reply@cms.localhost",
                                subject="Aviso", body="b", status=MailStatus.FAILED, attempts=5))  # fmt: skip
    db.session.commit()


@pytest.mark.parametrize("locale", ["es", "zh"])
@pytest.mark.parametrize(("path", "spanish", "chinese", "english"), PAGES, ids=[page[0] for page in PAGES])
def test_console_pages_speak_the_members_language(
    login_as, users, console_rows, locale, path, spanish, chinese, english
):
    users["administrator"].locale = locale
    db.session.commit()
    response = login_as("administrator").get(path)
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    for shown in spanish if locale == "es" else chinese:
        assert shown in text, (path, shown)
    assert english not in text, (path, english)


@pytest.mark.parametrize(("locale", "message"), [("es", "Acción desconocida."), ("zh", "未知操作。")])
def test_an_unknown_bulk_action_is_refused_in_the_members_language(login_as, users, locale, message):
    users["moderator"].locale = locale
    db.session.commit()
    moderator = login_as("moderator")
    response = moderator.post(
        "/admin/comment/action/", data={"action": "bogus", "rowid": "1", "csrf_token": moderator.csrf()}
    )
    assert response.status_code == 400 and message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("locale", "sizes"), [("es", ["20 filas", "50 filas", "100 filas"]), ("zh", ["50 行", "100 行"])]
)
def test_the_page_size_menu_speaks_the_members_language(login_as, users, locale, sizes):
    """Flask-Admin builds each choice's message from its number ("50 items"): the catalogs hold one for each of the
    console's page sizes. In zh they showed English even so: Flask-Babel took the plural rule of the last catalog
    read, an empty one's n != 1, where zh has one form (admin_views.init_admin)."""
    users["editor"].locale = locale
    db.session.commit()
    html = login_as("editor").get("/admin/post/").get_data(as_text=True)
    assert all(size in html for size in sizes), sizes
    assert "50 items" not in html and "100 items" not in html
