"""Spreadsheets people like: a "Comments" sheet with typed dates in a date format, column widths, a bold frozen
header with an autofilter, statuses in the moderator's language and rows in the list's order, after an "About"
sheet that says when, with which filters and in which order; read back through openpyxl and through LibreOffice
(which saves the file again, or as csv, as a person's copy would)."""

import csv
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from babel.dates import format_datetime
from flask_babel import force_locale, gettext

from cms import exports
from cms.comments import CommentSelection
from cms.exports import RowOrder, deliver, export_to_file, jobs
from cms.exports.writers import DATE_FORMAT, WIDTHS
from cms.extensions import db
from cms.models import Comment, ExportJob
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import (
    ENGLISH_HEADER,
    expected_rows,
    in_xlsx,
    libreoffice,
    read_csv,
    read_xlsx,
)
from tests.support.instances import finish_background_exports

SPANISH_STATUSES = {"pending": "Pendiente", "approved": "Aprobado", "hidden": "Oculto"}
EXPORTED_AT = datetime(2026, 11, 27, 9, 30, 15)
needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")


@pytest.fixture
def newsroom(users):
    """Eight comments on two posts whose dates run against their ids, in all three statuses."""
    story = make_post(users["author"], "published", title="中文标题 story")
    other = make_post(users["author"], "published", title="Other")
    start = datetime(2026, 3, 1, 12, 0, 0)
    for n, offset in enumerate([40, 10, 70, 30, 30, 0, 55, 20]):
        post = story if n % 2 else other
        comment = make_comment(
            users["reader"], post, body=f"comment {n}", status=("pending", "approved", "hidden")[n % 3]
        )
        comment.created_at = start + timedelta(minutes=offset, microseconds=n)
    db.session.commit()


def ordered(rows: list[list], column: int, descending: bool) -> list[list]:
    """`rows` (in id order) as the list orders them: by the column, then by id the same way."""
    return sorted(rows, key=lambda row: (row[column], row[0]), reverse=descending)


def in_words(moment: datetime, locale: str) -> str:
    """A UTC time as Babel writes it in `locale` ("long": CLDR's words change between Babel releases)."""
    return format_datetime(moment, "long", tzinfo=UTC, locale=locale)


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def about(book: openpyxl.Workbook) -> dict[str, object]:
    return {label: value for label, value in book["About"].iter_rows(values_only=True)}


def export(tmp_path, fmt="xlsx", locale="en", selection=CommentSelection(), order=None):
    path = tmp_path / f"comments.{fmt}"
    export_to_file(selection, fmt, path, locale, "http://localhost/", order=order, exported_at=EXPORTED_AT)
    return path


# -- the file, read with openpyxl --------------------------------------------------------------------
def test_the_xlsx_opens_on_a_comments_sheet_after_an_about_sheet(app, newsroom, tmp_path):
    book = workbook(export(tmp_path).read_bytes())
    assert book.sheetnames == ["About", "Comments"]
    assert book.active.title == "Comments"


def test_dates_are_dates_with_a_date_format(app, newsroom, tmp_path):
    sheet = workbook(export(tmp_path).read_bytes())["Comments"]
    dates = [row[6] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.is_date and cell.number_format == DATE_FORMAT for cell in dates)
    assert [cell.value for cell in dates] == [row[6] for row in in_xlsx(expected_rows())]


def test_the_header_is_bold_frozen_and_filters_every_row_in_columns_as_wide_as_set(app, newsroom, tmp_path):
    sheet = workbook(export(tmp_path).read_bytes())["Comments"]
    assert [cell.value for cell in sheet[1]] == ENGLISH_HEADER
    assert all(cell.font.b for cell in sheet[1])
    assert not any(cell.font.b for cell in sheet[2])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H9"  # the header and the 8 rows
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEFGH"]
    assert [round(width) for width in widths] == [round(width + 0.71) for width in WIDTHS]


@pytest.mark.parametrize(
    "moment, shown",
    [
        (datetime(1, 1, 1), "0001-01-01 00:00:00"),
        (datetime(1900, 2, 28, 12), "1900-02-28 12:00:00"),
        (datetime(1900, 3, 1), datetime(1900, 3, 1)),
        (datetime(9999, 12, 31, 23, 59, 59), datetime(9999, 12, 31, 23, 59, 59)),
        (datetime(9999, 12, 31, 23, 59, 59, 999999), "9999-12-31 23:59:59.999999"),
    ],
)
def test_a_filters_moment_outside_excels_dates_is_written_as_text(app, newsroom, tmp_path, moment, shown):
    """Excel showed #VALUE! for the year 1, and a moment before March 1900 a day early."""
    book = workbook(export(tmp_path, selection=CommentSelection(created_from=moment)).read_bytes())
    assert about(book)["Created on or after (UTC)"] == shown


def test_the_about_sheet_names_a_filter_on_post_0(app, newsroom, tmp_path):
    book = workbook(export(tmp_path, selection=CommentSelection(post_id=0)).read_bytes())
    assert about(book)["Post ID"] == 0 and about(book)["Comments"] == 0 and "Filters" not in about(book)


def test_an_empty_selection_still_has_its_header_filter_and_about(app, newsroom, tmp_path):
    book = workbook(export(tmp_path, selection=CommentSelection(post_title="no such post")).read_bytes())
    assert list(book["Comments"].iter_rows(values_only=True)) == [tuple(ENGLISH_HEADER)]
    assert book["Comments"].auto_filter.ref == "A1:H1"
    assert about(book)["Comments"] == 0


def test_statuses_and_header_are_in_the_moderators_language_in_both_formats(app, newsroom, tmp_path):
    codes = [row[5] for row in expected_rows()]
    xlsx = read_xlsx(export(tmp_path, "xlsx", "es").read_bytes())
    csv_rows = read_csv(export(tmp_path, "csv", "es").read_bytes())
    for rows in (xlsx, csv_rows):
        assert rows[0][1] == "Título del artículo"
        assert [row[5] for row in rows[1:]] == [SPANISH_STATUSES[code] for code in codes]


def test_the_csv_has_iso_dates_and_the_lists_order(app, newsroom, tmp_path):
    rows = read_csv(export(tmp_path, "csv", order=RowOrder("created_at", True)).read_bytes())
    expected = ordered(expected_rows(labelled=True), 6, descending=True)
    assert rows[1:] == [[str(cell) for cell in row] for row in expected]
    assert rows[1][6] == "2026-03-01T13:10:00Z"


@pytest.mark.parametrize(
    ("order", "column"),
    [(RowOrder("created_at", True), 6), (RowOrder("created_at", False), 6), (RowOrder("status", False), None)],
    ids=["newest-first", "oldest-first", "by-status"],
)
def test_rows_come_in_the_lists_order_and_the_about_sheet_says_so(app, newsroom, tmp_path, order, column):
    book = workbook(export(tmp_path, order=order).read_bytes())
    rows = [list(row) for row in book["Comments"].iter_rows(min_row=2, values_only=True)]
    expected = in_xlsx(expected_rows(labelled=True))
    if column is None:  # by the status code, as the list sorts, then by id
        code = {row[0]: row[5] for row in expected_rows()}
        expected = sorted(expected, key=lambda row: (code[row[0]], row[0]))
    else:
        expected = ordered(expected, column, order.descending)
    assert rows == expected
    assert "as in the comment list" in about(book)["Order"]


def test_a_search_keeps_id_order_and_the_about_sheet_says_why(app, newsroom, tmp_path):
    selection = CommentSelection(search="comment")
    book = workbook(export(tmp_path, selection=selection, order=RowOrder("created_at", True)).read_bytes())
    ids = [row[0] for row in book["Comments"].iter_rows(min_row=2, values_only=True)]
    assert ids == sorted(ids) and len(ids) == 8
    assert about(book)["Order"] == (
        "By ID, not in the comment list's order: a search's matches cannot be read in that order without sorting "
        "them all"
    )


def test_the_about_sheet_names_the_filters_the_time_and_the_count(app, newsroom, tmp_path):
    selection = CommentSelection(
        status="pending",
        post_title="story",
        author="reader",
        created_from=datetime(2026, 3, 1, 12, 0),
        created_before=datetime(2026, 3, 2),
        search="=comment",
    )
    book = workbook(export(tmp_path, selection=selection).read_bytes())
    lines = about(book)
    assert lines == {
        "Exported at (UTC)": EXPORTED_AT,
        "Exported at": in_words(EXPORTED_AT, "en"),
        "Comments": len(list(book["Comments"].iter_rows(min_row=2))),
        "Order": "By ID",
        "Status": "Pending",
        "Post title contains": "story",
        "Author": "reader",
        "Created on or after (UTC)": datetime(2026, 3, 1, 12, 0),
        "Created before (UTC)": datetime(2026, 3, 2),
        "Search": "'=comment",  # a search is the moderator's text: neutralised like every other cell
    }
    about_sheet = book["About"]
    assert about_sheet["B1"].is_date and about_sheet["B1"].number_format == DATE_FORMAT
    assert all(row[0].font.b for row in about_sheet.iter_rows())


def test_the_about_sheet_is_in_the_moderators_language(app, newsroom, tmp_path):
    selection = CommentSelection(status="hidden", search="story")
    lines = list(workbook(export(tmp_path, locale="es", selection=selection).read_bytes())["About"].values)
    # By place, not by label: the labels are translated as the catalogs are.
    assert lines[0][1] == EXPORTED_AT
    assert lines[1][1] == in_words(EXPORTED_AT, "es")  # the time as Spanish writes it
    assert "noviembre" in lines[1][1]
    assert lines[4][1] == "Oculto"  # the status filter, named as the Spanish queue names it
    with force_locale("es"):
        search_label = gettext("Search")
    assert lines[5] == (search_label, "story") and search_label != "Search"  # a filter's label in Spanish too


# -- through LibreOffice ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    """One LibreOffice profile for this module's conversions (its first start builds it: seconds)."""
    return tmp_path_factory.mktemp("libreoffice-profile")


@needs_libreoffice
def test_libreoffice_saves_the_xlsx_again_with_its_sheets_dates_widths_and_filter(app, newsroom, tmp_path, profile):
    source = export(tmp_path, locale="es", order=RowOrder("created_at", True))
    (saved,) = libreoffice(source, "xlsx", tmp_path / "saved", profile)
    book = workbook(saved.read_bytes())
    assert book.sheetnames == ["About", "Comments"] and book.active.title == "Comments"
    sheet = book["Comments"]
    dates = [row[6] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.is_date and cell.number_format.replace("\\", "") == DATE_FORMAT for cell in dates)
    expected = ordered(in_xlsx(expected_rows()), 6, descending=True)
    assert [cell.value for cell in dates] == [row[6] for row in expected]
    assert [row[5] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        SPANISH_STATUSES[row[5]] for row in expected
    ]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.auto_filter.ref == "A1:H9"
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEFGH"]
    assert [round(width) for width in widths] == [round(width + 0.71) for width in WIDTHS]
    assert book["About"]["B1"].is_date and book["About"]["B1"].value == EXPORTED_AT


@needs_libreoffice
def test_libreoffice_reads_dates_as_dates_and_writes_each_sheet_as_csv(app, newsroom, tmp_path, profile):
    source = export(tmp_path, order=RowOrder("created_at", False))
    # Token 12 of the csv filter's options, -1: every sheet, each to a file of its own.
    filter_options = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    about_csv, comments_csv = libreoffice(source, filter_options, tmp_path / "csv", profile)
    assert (about_csv.name, comments_csv.name) == ("comments-About.csv", "comments-Comments.csv")
    rows = list(csv.reader(io.StringIO(comments_csv.read_text(encoding="utf-8"))))
    expected = ordered(expected_rows(labelled=True), 6, descending=False)
    assert rows[0] == ENGLISH_HEADER
    # The date cells shown in their format: a date LibreOffice read as a number with a date format.
    assert [row[6] for row in rows[1:]] == [row[6].replace("T", " ").removesuffix("Z") for row in expected]
    assert [int(row[0]) for row in rows[1:]] == [row[0] for row in expected]
    about_rows = dict(csv.reader(io.StringIO(about_csv.read_text(encoding="utf-8"))))
    assert about_rows["Exported at (UTC)"] == "2026-11-27 09:30:15"
    assert about_rows["Order"] == "Oldest first, as in the comment list"


# -- from the console: in memory, as a file, as a background job -------------------------------------------
@pytest.mark.parametrize("delivery", ["memory", "file", "job"])
def test_the_console_export_follows_the_lists_sort_however_it_is_delivered(
    app, newsroom, login_as, users, monkeypatch, delivery
):
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 2000 if delivery == "memory" else 0)
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0 if delivery == "job" else 20000)
    users["moderator"].locale = "es"
    db.session.commit()
    moderator = login_as("moderator")
    before = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003  # naive UTC, as the file writes it
    response = moderator.get("/admin/comment/export/xlsx/?sort=0&flt0_status_equals=pending")  # oldest first
    if delivery == "job":
        assert response.status_code == 302
        finish_background_exports(app)
        response = moderator.get(response.location.rstrip("/") + "/download")
    assert response.status_code == 200
    book = workbook(response.get_data())
    assert book.sheetnames == ["About", "Comments"]
    rows = [list(row) for row in book["Comments"].iter_rows(min_row=2, values_only=True)]
    expected = ordered(in_xlsx(expected_rows("pending")), 6, descending=False)
    assert rows == [[*row[:5], "Pendiente", *row[6:]] for row in expected]
    lines = list(book["About"].values)  # by place: the labels are in Spanish as the catalogs are
    assert before <= lines[0][1] <= datetime.utcnow()  # noqa: DTZ003
    assert lines[4][1] == "Pendiente"


@pytest.mark.parametrize(
    ("query", "key", "descending"),
    [
        ("status=all", "created", True),  # the "All" tab's export (a bare address is the pending queue)
        ("sort=0", "created", False),
        ("sort=0&desc=1", "created", True),
        ("sort=1", "status", False),
        ("sort=1&desc=1", "status", True),
        ("sort=2", "created", True),  # the post column: not sortable, so the list's default order
        ("sort=0&search=comment", "id", False),
    ],
    ids=["default", "oldest-first", "newest-first", "status", "status-reversed", "unsortable", "search"],
)
def test_the_console_export_takes_the_lists_sort_from_its_query(app, newsroom, login_as, query, key, descending):
    response = login_as("moderator").get(f"/admin/comment/export/csv/?{query}")
    ids = [int(row[0]) for row in read_csv(response.get_data())[1:]]
    comments = fresh(sa.select(Comment.id, Comment.created_at, Comment.status)).all()
    sort_key = {
        "created": lambda c: (c.created_at, c.id),
        "status": lambda c: (c.status, c.id),
        "id": lambda c: c.id,
    }[key]
    assert ids == [c.id for c in sorted(comments, key=sort_key, reverse=descending)]


def test_a_background_job_keeps_the_lists_order_and_the_moderators_language(app, newsroom, users, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0)
    delivery = deliver(
        users["moderator"], CommentSelection(), "csv", locale="es", base_url="http://localhost/",
        order=RowOrder("created_at", True),
    )  # fmt: skip
    job = fresh(sa.select(ExportJob).where(ExportJob.id == delivery.job.id)).scalar_one()
    assert job.locale == "es"
    finish_background_exports(app)
    rows = read_csv((Path(app.config["EXPORTS_DIR"]) / f"{job.id}.csv").read_bytes())
    ids = [int(row[0]) for row in rows[1:]]
    dates = {comment_id: created for comment_id, created in fresh(sa.select(Comment.id, Comment.created_at))}
    assert ids == sorted(dates, key=lambda i: (dates[i], i), reverse=True)
    assert rows[0][1] == "Título del artículo"


def test_a_failed_job_run_again_keeps_its_order_and_language(app, newsroom, users, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0)
    for module in (exports, jobs):  # not started: the job is failed by hand below
        monkeypatch.setattr(module, "start_export", lambda job: None)
    newest_first = RowOrder("created_at", True)
    delivery = deliver(
        users["moderator"], CommentSelection(), "csv", locale="es", base_url="http://localhost/", order=newest_first
    )
    failed = db.session.get(ExportJob, delivery.job.id)
    failed.status = "failed"
    db.session.commit()
    rerun, made = jobs.run_again(users["moderator"], failed)
    kept = json.loads(fresh(sa.select(ExportJob.selection).where(ExportJob.id == rerun.id)).scalar_one())
    assert made and rerun.locale == "es"
    assert RowOrder.from_json(kept["order"]) == newest_first
