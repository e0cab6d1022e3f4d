"""Bulk account import: template, dry run with every error, all or nothing, invitations through the outbox."""

import csv
import io
import json
import os
import re
import threading
import time
from html import unescape
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from cms import imports, previews
from cms.extensions import db
from cms.imports import MAX_ROWS
from cms.models import AuditLog, OutgoingMail, User
from tests.support.accounts import GOOD_PASSWORD
from tests.support.database import fresh
from tests.support.mail import link_in, outbox_rows
from tests.support.web import Browserish

HEADER = ["email", "username", "name", "roles", "locale"]
OLD_HEADER = [*HEADER, "password"]  # the template's columns before passwords stopped being imported


def xlsx(rows: list[list], header: list[str] = HEADER, merged: str | None = None) -> bytes:
    book = openpyxl.Workbook()
    for row in [header, *rows]:
        book.active.append(row)
    if merged:
        book.active.merge_cells(merged)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], header: list[str] = HEADER) -> bytes:
    return "\n".join(",".join(map(str, row)) for row in [header, *rows]).encode()


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
    rows = [[f"person{n}@example.org", f"person{n}", f"Person {n}", "Reader", "en"] for n in range(1000)]
    if bad_row is not None:
        rows[bad_row - 2][3] = "Wizard"  # spreadsheet row numbers count the header as row 1
    return rows


def apply(browser, html: str):
    token = html.split('name="token" value="')[1].split('"')[0]
    return browser.post("/admin/user-import/apply/", data={"token": token, "csrf_token": browser.csrf()})


def test_a_csv_is_read_as_written_with_or_without_a_byte_order_mark(login_as, users):
    """Excel's "CSV UTF-8" begins with a BOM, and its cells are text: the username 1e3 and the name 12.50 stay as
    typed (pyexcel read them as the numbers 1000.0 and 12.5), and the header is found (it was refused)."""
    data = "\ufeff" + "email,username,name\nnum@example.org,1e3,12.50\n,,\n"
    administrator = login_as("administrator")
    response = upload(administrator, data.encode(), "people.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "1 rows, 0 with errors." in html, html[:3000]
    table = html.split('id="import-rows"')[1].split("</table>")[0]
    assert "<td>1e3</td>" in table and "1000" not in table
    assert apply(administrator, html).status_code == 302
    assert fresh(sa.select(User.username, User.name).where(User.email == "num@example.org")).one() == ("1e3", "12.50")


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
    response = upload(login_as("administrator"), xlsx(rows, OLD_HEADER))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "6 rows, 4 with errors." in html
    assert "create the account and send an invitation" in html
    for message in ("invalid email address", "email reader@example.com already has an account",
                    "email twice@example.org is also on row 5", "unknown role Wizard", "unknown language &#39;fr&#39;",
                    "passwords are not imported: leave the column empty"):  # fmt: skip
        assert message in html, message
    assert 'name="token"' not in html, "no apply button while any row is wrong"
    assert user_count() == len(users)


def test_apply_creates_every_account_and_sends_invitations(app, login_as, users, outbox):
    browser = login_as("administrator")
    rows = [
        ["ann@example.org", "ann", "Ann", "Editor; Moderator", "es"],
        ["bob@example.org", "", "", "", ""],
    ]
    html = upload(browser, csv_bytes(rows), "people.csv").get_data(as_text=True)
    response = apply(browser, html)
    assert response.status_code == 302
    assert "2 accounts were created; each will receive an invitation to choose a password." in browser.get(
        response.location
    ).get_data(as_text=True)
    created = {
        u.email: u
        for u in fresh(sa.select(User).where(User.email.in_(["ann@example.org", "bob@example.org"]))).scalars()
    }
    assert sorted(r.name for r in created["ann@example.org"].roles) == ["Editor", "Moderator"]
    assert created["ann@example.org"].locale == "es" and created["ann@example.org"].confirmed_at is None
    assert created["bob@example.org"].username == "bob" and [r.name for r in created["bob@example.org"].roles] == [
        "Reader"
    ]
    assert all(user.password is None for user in created.values())
    assert [(row.recipient, row.kind, row.status) for row in outbox_rows()] == [
        ("ann@example.org", "invitation", "queued"), ("bob@example.org", "invitation", "queued")
    ]  # fmt: skip
    assert fresh(sa.select(AuditLog).where(AuditLog.action == "import")).scalar_one().summary == "2 accounts imported"
    # Each account's history starts with its creation, by the administrator who imported it.
    creations = {
        entry.object_id: entry
        for entry in fresh(sa.select(AuditLog).where(AuditLog.action == "create", AuditLog.object_type == "User"))
        .scalars()
        .all()
        if entry.object_id in {str(user.id) for user in created.values()}
    }
    ann, bob = created["ann@example.org"], created["bob@example.org"]
    assert sorted(creations) == sorted([str(ann.id), str(bob.id)])
    assert {entry.user_id for entry in creations.values()} == {users["administrator"].id}
    assert creations[str(ann.id)].summary == "ann" and creations[str(bob.id)].summary == "bob"
    assert json.loads(creations[str(ann.id)].changes) == {
        "email": [None, "ann@example.org"], "username": [None, "ann"], "name": [None, "Ann"], "locale": [None, "es"],
        "roles": [[], ["Editor", "Moderator"]],
    }  # fmt: skip
    assert json.loads(creations[str(bob.id)].changes)["roles"] == [[], ["Reader"]]
    history = browser.get(f"/admin/audit/?flt0_object_equals=User&flt1_id_equals={ann.id}")
    assert history.status_code == 200
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", history.get_data(as_text=True)))
    assert "1 row matches." in shown and f"administrator 127.0.0.1 create User {ann.id} ann" in shown

    invitations = {mail["to"]: mail for mail in outbox}
    assert sorted(invitations) == ["ann@example.org", "bob@example.org"]
    accepted = Browserish(app.test_client()).submit(
        link_in(invitations["bob@example.org"]), {"password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}
    )
    assert accepted.status_code == 302
    Browserish(app.test_client()).login("bob@example.org", GOOD_PASSWORD)


def test_importing_max_rows_returns_with_every_invitation_in_the_outbox_and_none_sent(app, login_as, users):
    """The request writes MAX_ROWS accounts and their invitations and sends nothing (sending each once, whatever
    happens to the worker, is tests/test_outbox_workers.py's)."""
    browser = login_as("administrator")
    rows = [[f"p{n}@example.org", f"person{n}", "", "Reader", ""] for n in range(MAX_ROWS)]
    html = upload(browser, csv_bytes(rows), "people.csv").get_data(as_text=True)
    delivered = app.extensions["cms.outbox"]
    delivered.clear()
    response = apply(browser, html)
    assert response.status_code == 302
    assert delivered == [], "no mail is sent inside the request"
    counts = fresh(sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)).all()
    assert counts == [("queued", MAX_ROWS)]
    assert user_count() == len(users) + MAX_ROWS
    recipients = fresh(sa.select(OutgoingMail.recipient).where(OutgoingMail.kind == "invitation")).scalars().all()
    assert sorted(recipients) == sorted(f"p{n}@example.org" for n in range(MAX_ROWS))


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


def preview_files(app) -> set[Path]:
    return set(Path(app.config["IMPORTS_DIR"]).glob("*.json"))


def dry_run(app, browser, email: str) -> tuple[str, Path]:
    """Upload a one-person file: the preview page, and the preview kept for it."""
    before = preview_files(app)
    html = upload(browser, csv_bytes([[email, email.split("@")[0], "Someone", "Reader", "en"]]), "people.csv")
    (preview,) = preview_files(app) - before
    return html.get_data(as_text=True), preview


def age(path: Path, seconds: float) -> None:
    """Make the preview at `path` look written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture(params=[(59, True), (60, False)], ids=["a-second-young", "lifetime-old"])
def aged_preview(request, app, login_as, monkeypatch):
    """An administrator's dry run whose preview was written 59 s ago (young) or 60 s ago, the lifetime (60 here):
    (browser, preview page, preview file, young). The clock stands still for the test: on a busy machine a second
    passed before the next request read the preview's age, and the young one was swept."""
    monkeypatch.setitem(app.config, "IMPORT_PREVIEW_LIFETIME", 60)
    written_ago, young = request.param
    browser = login_as("administrator")
    with time_machine.travel(time.time(), tick=False):
        html, preview = dry_run(app, browser, "ann@example.org")
        age(preview, written_ago)
        yield browser, html, preview, young


def test_a_preview_can_be_applied_until_it_is_its_lifetime_old(users, aged_preview):
    browser, html, preview, applied = aged_preview
    page = browser.get(apply(browser, html).location).get_data(as_text=True)
    assert ("1 account was created" in page) == applied
    assert ("unknown or has expired" in page) != applied
    assert user_count() == len(users) + applied
    assert not preview.exists()  # applied once, or gone with its age


def test_the_next_dry_run_removes_previews_of_the_lifetime_age(app, aged_preview):
    """A preview nobody applied (it holds people's details) is gone once it is the lifetime old, whoever's it was."""
    browser, _, earlier, kept = aged_preview
    _, later = dry_run(app, browser, "bob@example.org")
    assert earlier.exists() == kept
    assert later.exists()


def test_a_preview_gone_while_the_next_dry_run_sweeps_is_no_error(app, login_as, users, monkeypatch):
    """Another request applied (or swept) a preview between the folder's listing and its age being read."""
    from cms import previews

    listed, imports = previews.Path.glob, Path(app.config["IMPORTS_DIR"])

    def glob(folder, pattern):
        found = list(listed(folder, pattern))
        return iter([*found, folder / f"{'0' * 32}.json"] if folder == imports else found)

    monkeypatch.setattr(previews.Path, "glob", glob)
    html, preview = dry_run(app, login_as("administrator"), "ann@example.org")
    assert 'name="token"' in html and preview.exists()


@pytest.mark.parametrize(("role", "status"), [(None, 302), ("moderator", 403), ("editor", 403)])
def test_import_is_for_administrators_only(login_as, role, status):
    browser = login_as(role)
    assert browser.get("/admin/user-import/").status_code == status
    assert browser.get("/admin/user-import/template.xlsx").status_code == status


def test_a_file_over_the_row_limit_is_refused_whole_with_the_limit_named(login_as, users):
    rows = [[f"p{n}@example.org", f"p{n}", "", "Reader", ""] for n in range(MAX_ROWS + 1)]
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


@pytest.mark.parametrize(
    ("locale", "file_error", "row_errors"),
    [
        ("es", "La primera fila debe ser el encabezado: email, username, name, roles, locale (email es obligatorio).",
         ["rol desconocido: Wizard", "idioma desconocido &#39;fr&#39; (usa ",
          "email twice@example.org también está en la fila 2"]),
        ("zh", "第一行必须是表头：email, username, name, roles, locale（email 为必填）。",
         ["未知角色：Wizard", "未知语言 &#39;fr&#39;（请使用 ", "email twice@example.org 也出现在第 2 行"]),
    ],
)  # fmt: skip
def test_the_imports_errors_are_in_the_administrators_language(login_as, users, locale, file_error, row_errors):
    users["administrator"].locale = locale
    db.session.commit()
    browser = login_as("administrator")
    refused = upload(browser, b"name,roles\nAnn,Reader", "people.csv")
    assert refused.status_code == 400
    assert file_error in refused.get_data(as_text=True)
    rows = [["twice@example.org", "twice1", "", "Wizard", "fr"], ["Twice@example.org", "twice2", "", "Reader", ""]]
    html = upload(browser, xlsx(rows)).get_data(as_text=True)
    for message in row_errors:
        assert message in html, message
    gone = browser.post("/admin/user-import/apply/", data={"token": "no-such-preview", "csrf_token": browser.csrf()})
    expired = {"es": "Esta importación no existe o ha caducado", "zh": "此导入不存在或已过期"}[locale]
    assert expired in browser.get(gone.location).get_data(as_text=True)


def sheet_reaching(cell: str, header: list[str] = HEADER) -> bytes:
    """A workbook of the header and one person, with `cell` holding a value (a stray mark far down or across)."""
    book = openpyxl.Workbook()
    for row in [header, ["far@example.org", "far", "", "Reader", ""]]:
        book.active.append(row)
    book.active[cell] = "x" if cell not in ("A1", "A2") else book.active[cell].value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_sheet_reaching_past_the_rows_or_columns_an_import_reads_is_refused_before_reading(login_as, users):
    """A 5 KB workbook with one cell at A200000 made the reader build 200,000 rows (7 s of a worker; 20 s and
    1.5 GB with the cell at AX100000). The sheet's own dimension (its far corner) refuses it first."""
    response = upload(login_as("administrator"), sheet_reaching("A200000"))
    assert response.status_code == 400
    reads = f"({imports.SHEET_ROWS:,} rows and columns A to Z)"
    assert f"The sheet's cells reach E200000, past what an import reads {reads}." in unescape(
        response.get_data(as_text=True)
    )


@pytest.mark.parametrize(
    ("cell", "corner", "refused"),
    [("A5", "F5", False), ("A6", "F6", True), ("F2", "F2", False), ("G2", "G2", True)],
    ids=["last-row", "a-row-past", "last-column", "a-column-past"],
)
def test_the_sheet_bounds_at_their_limits(login_as, users, monkeypatch, cell, corner, refused):
    """The sheet's far corner (the header's six columns, the stray cell's row) against 5 rows and 6 columns."""
    monkeypatch.setattr(imports, "SHEET_ROWS", 5)
    monkeypatch.setattr(imports, "SHEET_COLUMNS", 6)
    response = upload(login_as("administrator"), sheet_reaching(cell, header=OLD_HEADER))
    html = unescape(response.get_data(as_text=True))
    message = f"The sheet's cells reach {corner}, past what an import reads (5 rows and columns A to F)."
    assert (message in html) == refused
    assert (response.status_code == 400) == refused


def test_hidden_rows_are_read_and_rows_keep_the_sheets_numbers(login_as, users):
    """A hidden row was neither imported nor reported, and the error on the row after it was called the row
    before."""
    book = openpyxl.Workbook()
    for row in [HEADER, ["ann@example.org", "ann", "", "Reader", ""], ["hid@example.org", "hid", "", "Reader", ""],
                ["bad@example.org", "bad", "", "Wizard", ""]]:  # fmt: skip
        book.active.append(row)
    book.active.row_dimensions[3].hidden = True
    out = io.BytesIO()
    book.save(out)
    html = upload(login_as("administrator"), out.getvalue()).get_data(as_text=True)
    assert "hid@example.org" in html
    assert re.search(r"<td>4</td>\s*<td>bad@example.org</td>", html), html[html.find("<table") :][:900]


def test_an_unknown_column_is_named_and_nothing_read(login_as, users):
    """`role` for `roles`: every account would have been a Reader, without a word."""
    response = upload(login_as("administrator"), csv_bytes([["ann@example.org", "ann", "Administrator"]],
                                                           header=["email", "username", "role"]), "people.csv")  # fmt: skip
    assert response.status_code == 400
    assert "Unknown column(s): role. The header's columns are email, username, name, roles, locale." in unescape(
        response.get_data(as_text=True)
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email,email\na@example.org,b@example.org\n", "The column email appears twice in the header."),
        (b"email,username\na@example.org,auser,extra,cells\n",
         "Some rows have cells past the header's columns: give each column its name in the first row."),
        (b"email,,username\na@example.org,stray,auser\n",
         "Some rows have cells past the header's columns: give each column its name in the first row."),
    ],
    ids=["repeated-column", "a-row-longer-than-the-header", "an-unnamed-column"],
)  # fmt: skip
def test_a_header_pyexcel_renames_is_refused_as_the_file_has_it(login_as, users, data, message):
    """pyexcel renames a repeated column "email-1" and cells past the header "-1": the import called them unknown
    columns "email-1" and "-1", which the file does not have."""
    response = upload(login_as("administrator"), data, "people.csv")
    assert response.status_code == 400 and message in unescape(response.get_data(as_text=True))
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email == "a@example.org")).scalar() == 0


def test_a_sheet_with_merged_cells_is_refused(login_as, users):
    """pyexcel read "Editor" merged over D2:D3 into row 2 only: row 3's account became a Reader without a word."""
    rows = [["ann@example.org", "ann", "", "Editor", ""], ["bob@example.org", "bob", "", "", ""]]
    response = upload(login_as("administrator"), xlsx(rows, merged="D2:D3"))
    assert response.status_code == 400
    assert "The sheet has merged cells (D2:D3): unmerge them, so that each row holds its own values." in unescape(
        response.get_data(as_text=True)
    )


@pytest.mark.parametrize("name", ["Ann\x1bEvil", "Ann\nEvil", "Ann\x00", "Ann\u2028Lee", "Ann\tLee"])
def test_a_name_with_a_control_character_is_a_row_error(login_as, users, name):
    """The console's account form refuses such a name; the import stored it."""
    written = io.StringIO()
    csv.writer(written).writerows([HEADER, ["ann@example.org", "ann", name, "Reader", ""]])  # openpyxl refuses them
    response = upload(login_as("administrator"), written.getvalue().encode(), "people.csv")
    html = unescape(response.get_data(as_text=True))
    assert "a name is one line of letters, digits, spaces and punctuation" in html and "1 rows, 1 with errors." in html
    assert 'name="token"' not in html


def test_a_role_named_twice_in_a_cell_is_held_once(login_as, users):
    """`Editor; editor` passed the dry run, then failed the whole import on the second link of the same role (a
    500)."""
    browser = login_as("administrator")
    html = upload(browser, csv_bytes([["twice@example.org", "twice", "", "Editor; editor", ""]]), "people.csv")
    assert apply(browser, html.get_data(as_text=True)).status_code == 302
    made = fresh(sa.select(User).where(User.email == "twice@example.org")).scalar_one()
    assert [role.name for role in made.roles] == ["Editor"]


def test_a_workbook_whose_first_sheet_is_empty_says_so(login_as, users):
    book = openpyxl.Workbook()
    book.create_sheet("People").append(HEADER)
    out = io.BytesIO()
    book.save(out)
    response = upload(login_as("administrator"), out.getvalue())
    assert response.status_code == 400
    assert "The file's first sheet is empty: the import reads the first sheet." in unescape(
        response.get_data(as_text=True)
    )


def apply_together(browsers: list, tokens: list[str]) -> list:
    """Each browser applies its token at once, each in a thread (the test makes them meet where it needs); the
    statuses, a 500 as its exception."""
    statuses: list = []

    def send(browser, token):
        try:
            statuses.append(browser.post("/admin/user-import/apply/", data={"token": token,
                                                                            "csrf_token": browser.csrf()}).status_code)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the test client raises what would be a 500
            statuses.append(exc)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(browsers, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_one_preview_applied_twice_at_once_makes_the_accounts_once(app, login_as, users, monkeypatch):
    """A double click: both requests read the preview before either removed it, and both applied it (the second a
    500 on the accounts the first had made). The preview is claimed by one; the other hears it is gone."""
    first, second = login_as("administrator"), login_as("administrator")
    html, _ = dry_run(app, first, "twin@example.org")
    token = html.split('name="token" value="')[1].split('"')[0]
    both_read = threading.Barrier(2, timeout=10)
    loads = json.loads

    def read_together(text, *args, **kwargs):
        value = loads(text, *args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            both_read.wait()
        return value

    monkeypatch.setattr(previews.json, "loads", read_together)
    assert apply_together([first, second], [token, token]) == [302, 302]
    assert user_count() == len(users) + 1
    pages = [b.get("/admin/user/").get_data(as_text=True) + b.get("/admin/user-import/").get_data(as_text=True)
             for b in (first, second)]  # fmt: skip
    assert sum("1 account was created" in page for page in pages) == 1
    assert sum("This import is unknown or has expired" in page for page in pages) == 1


def test_two_previews_of_the_same_person_applied_at_once_make_one_account_and_no_500(app, login_as, users, monkeypatch):
    """Both checked that the account is new before either made it: the second failed on the database's unique
    username (a 500). It now says the accounts were made meanwhile, and nothing of it is kept."""
    first, second = login_as("administrator"), login_as("administrator")
    tokens = [dry_run(app, b, "same@example.org")[0].split('name="token" value="')[1].split('"')[0]
              for b in (first, second)]  # fmt: skip
    both_checked = threading.Barrier(2, timeout=10)
    validate = imports.validate

    def check_together(rows):
        result = validate(rows)
        if threading.current_thread() is not threading.main_thread():
            both_checked.wait()
        return result

    monkeypatch.setattr(imports, "validate", check_together)
    assert apply_together([first, second], tokens) == [302, 302]
    assert user_count() == len(users) + 1
    pages = [b.get("/admin/user/").get_data(as_text=True) + b.get("/admin/user-import/").get_data(as_text=True)
             for b in (first, second)]  # fmt: skip
    assert sum("Some of these accounts were created meanwhile; nothing was imported." in page for page in pages) == 1


@pytest.mark.parametrize("username", ["abc", "l" * 64], ids=["three-characters", "the-columns-length"])
def test_an_imported_username_signs_in(app, login_as, users, outbox, username):
    """Flask-Security's own bounds (4 to 32 characters) refused the sign-in of names the import and the console
    keep (3 to 64)."""
    browser = login_as("administrator")
    html = upload(browser, csv_bytes([["named@example.org", username, "", "Reader", ""]]), "people.csv")
    assert apply(browser, html.get_data(as_text=True)).status_code == 302
    [invitation] = [mail for mail in outbox if mail["to"] == "named@example.org"]
    chosen = Browserish(app.test_client()).submit(
        link_in(invitation), {"password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD}
    )
    assert chosen.status_code == 302
    signed_in = Browserish(app.test_client()).submit("/login", {"username": username, "password": GOOD_PASSWORD})
    assert signed_in.status_code == 302
