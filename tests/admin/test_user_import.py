"""Bulk account import: template, dry run with every error, all or nothing, confirmation emails."""

import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from cms.imports import MAX_ROWS
from cms.models import AuditLog, User
from tests.support.database import fresh

HEADER = ["email", "username", "name", "roles", "locale", "password"]


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list]) -> bytes:
    return "\n".join(",".join(map(str, row)) for row in [HEADER, *rows]).encode()


def upload(browser, data: bytes, name: str = "people.xlsx"):
    token = browser.token_for("/admin/user-import/")
    return browser.post(
        "/admin/user-import/",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def user_count() -> int:
    return fresh(sa.select(sa.func.count()).select_from(User)).scalar()


def thousand(bad_row: int | None = None) -> list[list]:
    rows = [[f"person{n}@example.org", f"person{n}", f"Person {n}", "Reader", "en", ""] for n in range(1000)]
    if bad_row is not None:
        rows[bad_row - 2][3] = "Wizard"  # spreadsheet row numbers count the header as row 1
    return rows


def apply(browser, html: str):
    token = html.split('name="token" value="')[1].split('"')[0]
    return browser.post("/admin/user-import/apply/", data={"token": token, "csrf_token": browser.csrf()})


def test_template_downloads(login_as):
    browser = login_as("administrator")
    sheet = openpyxl.load_workbook(io.BytesIO(browser.get("/admin/user-import/template.xlsx").get_data())).active
    assert [c.value for c in sheet[1]] == HEADER
    assert browser.get("/admin/user-import/template.csv").get_data(as_text=True).startswith("email,username")


def test_dry_run_lists_every_row_and_every_error(login_as, users):
    rows = [
        ["good@example.org", "good", "Good", "Editor; Moderator", "es", ""],
        ["not-an-email", "bad1", "", "Reader", "", ""],
        ["READER@example.com", "dupdb", "", "Reader", "", ""],
        ["twice@example.org", "twice1", "", "Reader", "", ""],
        ["Twice@example.org", "twice2", "", "Wizard", "", ""],
        ["lang@example.org", "lang", "", "Reader", "fr", "short"],
    ]
    response = upload(login_as("administrator"), xlsx(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "6 rows, 4 with errors." in html
    assert "create the account and send a confirmation email" in html
    for message in ("invalid email address", "email reader@example.com already has an account",
                    "email twice@example.org is also on row 5", "unknown role Wizard", "unknown language &#39;fr&#39;",
                    "password: Password must be at least 12 characters"):  # fmt: skip
        assert message in html, message
    assert 'name="token"' not in html, "no apply button while any row is wrong"
    assert user_count() == len(users)


def test_apply_creates_every_account_and_sends_confirmations(login_as, users, outbox):
    browser = login_as("administrator")
    rows = [
        ["ann@example.org", "ann", "Ann", "Editor; Moderator", "es", ""],
        ["bob@example.org", "", "", "", "", "a-long-password"],
    ]
    html = upload(browser, csv_bytes(rows), "people.csv").get_data(as_text=True)
    outbox.clear()
    response = apply(browser, html)
    assert response.status_code == 302
    created = {
        u.email: u
        for u in fresh(sa.select(User).where(User.email.in_(["ann@example.org", "bob@example.org"]))).scalars()
    }
    assert sorted(r.name for r in created["ann@example.org"].roles) == ["Editor", "Moderator"]
    assert created["ann@example.org"].locale == "es" and created["ann@example.org"].confirmed_at is None
    assert created["bob@example.org"].username == "bob" and [r.name for r in created["bob@example.org"].roles] == [
        "Reader"
    ]
    assert sorted(mail["to"] for mail in outbox) == ["ann@example.org", "bob@example.org"]
    assert fresh(sa.select(AuditLog).where(AuditLog.action == "import")).scalar_one().summary == "2 accounts imported"


def test_error_in_row_999_of_1000_imports_nothing(login_as, users):
    browser = login_as("administrator")
    html = upload(browser, xlsx(thousand(bad_row=999))).get_data(as_text=True)
    assert "1000 rows, 1 with errors." in html
    assert '<tr class="table-danger" data-line="999">' in html
    assert user_count() == len(users)


def test_apply_is_all_or_nothing_when_the_database_changes_in_between(login_as, users):
    from cms.accounts import create_user

    browser = login_as("administrator")
    html = upload(browser, xlsx(thousand())).get_data(as_text=True)
    create_user("person998@example.org", "a-long-password", ["Reader"], username="someoneelse")  # row 1000 now clashes
    response = apply(browser, html)
    assert response.status_code == 302
    assert "already has an account" in browser.get(response.location).get_data(as_text=True)
    assert user_count() == len(users) + 1


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.4 not a sheet", "people.pdf", "Only .xlsx and .csv files can be imported."),
        (b"PK\x03\x04garbage", "people.xlsx", "The file could not be read as xlsx."),
        (b"name,roles\nAnn,Reader", "people.csv", "The first row must be the header"),
        (b"email\n", "people.csv", "The file has no rows under its header."),
    ],
)
def test_unreadable_files_get_a_clear_error(login_as, data, name, message):
    response = upload(login_as("administrator"), data, name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_stale_or_foreign_token_is_refused(login_as, users):
    browser = login_as("administrator")
    response = browser.post(
        "/admin/user-import/apply/", data={"token": "../../etc/passwd", "csrf_token": browser.csrf()}
    )
    assert "unknown or has expired" in browser.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize(("role", "status"), [(None, 302), ("moderator", 403), ("editor", 403)])
def test_import_is_for_administrators_only(login_as, role, status):
    browser = login_as(role)
    assert browser.get("/admin/user-import/").status_code == status
    assert browser.get("/admin/user-import/template.xlsx").status_code == status


def test_a_file_over_the_row_limit_is_refused_whole_with_the_limit_named(login_as, users):
    rows = [[f"p{n}@example.org", f"p{n}", "", "Reader", "", ""] for n in range(MAX_ROWS + 1)]
    response = upload(login_as("administrator"), csv_bytes(rows), "people.csv")
    assert response.status_code == 400
    assert f"The file has {MAX_ROWS + 1:,} rows; import at most {MAX_ROWS:,} at a time." in response.get_data(
        as_text=True
    )
    assert user_count() == len(users)


def test_the_import_page_is_headed_once_and_its_file_field_labelled(login_as):
    html = login_as("administrator").get("/admin/user-import/").get_data(as_text=True)
    assert re.findall(r"<h[1-6][^>]*>\s*Import accounts\s*</h[1-6]>", html) == [
        '<h1 class="h4 mb-4">Import accounts</h1>'
    ]
    assert '<label for="accounts-file">' in html and 'id="accounts-file"' in html
