"""Every csv export the console offers makes formula starts inert (one function: cms.exports.neutralise)."""

import csv
import io

import pytest

from cms.extensions import db
from cms.models import AuditLog, PostStatus
from tests.factories import make_post

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def cells(response) -> list[str]:
    assert response.status_code == 200
    return [cell for row in csv.reader(io.StringIO(response.get_data(as_text=True))) for cell in row]


def assert_inert(all_cells: list[str], planted: list[str]) -> None:
    for formula in planted:
        assert formula not in all_cells, f"{formula!r} exported raw"
        assert any(cell.startswith("'") and formula in cell for cell in all_cells), f"{formula!r} missing"


@pytest.mark.parametrize("formula", FORMULAS)
def test_post_titles_and_author_names_are_inert_in_the_posts_export(login_as, users, formula):
    writer = users["author"]
    writer.username = f"{formula}x"[:64]
    db.session.commit()
    make_post(writer, PostStatus.DRAFT, title=formula)
    exported = cells(login_as("administrator").get("/admin/post/export/csv/"))
    assert_inert(exported, [formula, writer.username])


def test_user_emails_and_names_are_inert_in_the_users_export(login_as, users):
    users["reader"].name = "=1+cmd@evil"
    db.session.commit()
    exported = cells(login_as("administrator").get("/admin/user/export/csv/"))
    assert_inert(exported, ["=1+cmd@evil"])


def test_audit_summaries_are_inert_in_the_audit_export(login_as, users):
    db.session.add(AuditLog(action="update", object_type="Post", object_id="1", summary="=cmd|'/c calc'!A1"))
    db.session.commit()
    exported = cells(login_as("administrator").get("/admin/audit/export/csv/"))
    assert_inert(exported, ["=cmd|'/c calc'!A1"])


def test_numbers_stay_numbers(login_as, users):
    post = make_post(users["author"], PostStatus.DRAFT, title="Plain")
    exported = cells(login_as("administrator").get("/admin/post/export/csv/"))
    assert str(post.id) in exported and f"'{post.id}" not in exported
