"""Formula injection: every export the console offers (each view with `can_export`, in each of its export types,
found from the console itself; the comment exports in memory, streamed to a file and as a background job) with
text that starts a formula in every exported text column. No exported cell may start a formula: each planted
value is there behind an apostrophe (one function does it: cms.exports.neutralise)."""

import csv
import io
import uuid

import pytest

from cms.extensions import db
from cms.models import AuditLog, BlockedWord, Comment, Follow, Media, Post, Role, User, utcnow
from tests.support.exports import read_xlsx
from tests.support.instances import finish_background_exports

# One of each start a spreadsheet reads as a formula: =, +, -, @, a tab and a carriage return first.
FORMULAS = ['=HYPERLINK("//evil.example")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+2", "\r=3+4"]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def planted(users):
    """For each formula: an account named with it (username, name, email), its post titled with it and a comment
    of it, its follow, an image, a blocked word, a role and an audit entry made of it."""
    for number, formula in enumerate(FORMULAS):
        person = User(email=f"{formula}{number}@evil.example", username=formula, name=formula, password="x",
                      fs_uniquifier=uuid.uuid4().hex, active=True)  # fmt: skip
        post = Post(title=formula, slug=f"formula-{number}", body=formula, body_html=formula, status="published",
                    published_at=utcnow(), author=person)  # fmt: skip
        db.session.add_all([
            person, post, Follow(follower=person, followed=users["editor"]),
            Comment(body=formula, body_html=formula, author=person, post=post, status="pending"),
            Media(file_name=f"{number}.png", original_name=f"{formula}.png", content_type="image/png", size=1,
                  width=1, height=1, uploader=person),
            BlockedWord(word=formula), Role(name=formula, description=formula, permissions=1),
            AuditLog(action=formula, object_type=formula, object_id=formula, summary=formula, ip=formula[:45],
                     user=person),
        ])  # fmt: skip
    db.session.commit()


def exports_offered(app) -> list[tuple[str, str]]:
    """(view endpoint, export type) for every console view that offers exports."""
    [admin] = app.extensions["admin"]
    return [(view.endpoint, kind) for view in admin._views if getattr(view, "can_export", False)
            for kind in view.export_types]  # fmt: skip


def cells(response, kind: str) -> list[str]:
    assert response.status_code == 200, response.status_code
    data = response.get_data()
    if kind == "xlsx":
        rows = read_xlsx(data)
    else:  # the comment exports start with a byte-order mark (for Excel), Flask-Admin's do not
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return [str(cell) for row in rows for cell in row if cell is not None]


def assert_neutralised(exported: list[str], where: str) -> None:
    live = [cell for cell in exported if cell.startswith(FORMULA_STARTS)]
    assert not live, f"{where}: cells that start a formula: {live}"
    quoted = [cell for cell in exported if cell.startswith("'") and cell[1:].startswith((*FORMULA_STARTS, "\n"))]
    assert len(quoted) >= len(FORMULAS), f"{where}: the planted values are not all there: {quoted}"


def test_every_export_the_console_offers_neutralises_formulas(app, planted, login_as):
    offered = exports_offered(app)
    assert {"post", "user", "audit", "follow", "media", "blockedword", "role", "comment"} <= {v for v, _ in offered}
    admin = login_as("administrator")
    for view, kind in offered:
        assert_neutralised(cells(admin.get(f"/admin/{view}/export/{kind}/"), kind), f"/admin/{view}/export/{kind}/")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("delivery", ["memory", "file", "job"])
def test_comment_exports_neutralise_formulas_however_they_are_delivered(app, planted, login_as, monkeypatch,
                                                                       kind, delivery):  # fmt: skip
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 2000 if delivery == "memory" else 0)
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0 if delivery == "job" else 20000)
    moderator = login_as("moderator")
    response = moderator.get(f"/admin/comment/export/{kind}/")
    if delivery == "job":
        assert response.status_code == 302, response.status_code
        finish_background_exports(app)
        response = moderator.get(response.location.rstrip("/") + "/download")
    assert_neutralised(cells(response, kind), f"comments as {kind}, delivered as a {delivery}")
