"""One way to deliver an export, for the console and the CLI: the selection's size chooses a background job,
a file or rows in memory, and each way is audited exactly once."""

import threading

import pytest
import sqlalchemy as sa

from cms.comments import CommentSelection
from cms.exports import ExportError, deliver, download_path
from cms.models import AuditLog, ExportJob
from tests.factories import make_comment, make_post
from tests.support.database import fresh
from tests.support.exports import ENGLISH_HEADER, expected_rows, read_csv

PENDING = CommentSelection(status="pending")


@pytest.fixture
def five_pending(users):
    post = make_post(users["author"], "published", title="Story 中文")
    for n in range(7):
        make_comment(users["reader"], post, body=f"comment {n}", status="pending" if n < 5 else "approved")


def audit_entries() -> list[tuple]:
    query = sa.select(AuditLog.user_id, AuditLog.summary).where(AuditLog.action == "export")
    return [tuple(row) for row in fresh(query)]


def as_text(rows: list[list]) -> list[list]:
    return [[str(cell) for cell in row] for row in rows]


def finish(job: ExportJob):
    """Wait for the job's thread (no Redis in these tests), then read its file."""
    for thread in threading.enumerate():
        if thread.name == f"export-{job.id}":
            thread.join(timeout=60)
    done = fresh(sa.select(ExportJob).where(ExportJob.id == job.id)).scalar_one()
    assert done.status == "done", done.error
    return read_csv(download_path(done).read_bytes())


@pytest.mark.parametrize(
    ("async_rows", "inline_rows", "kind"),
    [(4, 2000, "job"), (5, 4, "file"), (5, 5, "memory")],
    ids=["above-async-limit", "above-inline-limit", "at-inline-limit"],
)
def test_size_decides_how_and_each_way_is_audited_once(
    app, users, five_pending, monkeypatch, async_rows, inline_rows, kind
):
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", async_rows)
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", inline_rows)
    moderator = users["moderator"]
    delivery = deliver(moderator, PENDING, "csv", locale="en", base_url="http://localhost/")
    assert (delivery.kind, delivery.total) == (kind, 5)
    if kind == "job":
        rows = finish(delivery.job)
        summary = f"5 comments as csv (background job {delivery.job.id})"
    elif kind == "file":
        rows = read_csv(delivery.path.read_bytes())
        delivery.path.unlink()
        summary = "5 comments as csv"
    else:
        rows = read_csv(delivery.data)
        summary = "5 comments as csv"
    assert as_text(rows) == as_text([ENGLISH_HEADER, *expected_rows("pending", labelled=True)])
    assert audit_entries() == [(None, summary)]


def test_a_given_path_gets_the_file_whatever_the_size(app, five_pending, tmp_path, monkeypatch):
    """The CLI's way: no user, its own path, its progress bar, and two processes allowed."""
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0)
    path, seen = tmp_path / "comments.csv", []
    delivery = deliver(
        None, PENDING, "csv", locale="es", base_url="http://localhost/", path=path, progress=seen.append, parallel=True
    )
    assert (delivery.kind, delivery.total, delivery.path, sum(seen)) == ("file", 5, path, 5)
    rows = read_csv(path.read_bytes())
    assert rows[0][1] == "Título del artículo"
    assert [row[5] for row in rows[1:]] == ["Pendiente"] * 5
    assert [row[:5] + row[6:] for row in rows[1:]] == [row[:5] + row[6:] for row in as_text(expected_rows("pending"))]
    assert audit_entries() == [(None, "5 comments as csv")]
    assert fresh(sa.select(ExportJob)).first() is None


def test_unknown_format_is_refused_before_anything_is_audited(app, users, five_pending):
    with pytest.raises(ExportError, match="Unknown export format 'pdf'"):
        deliver(users["moderator"], PENDING, "pdf", locale="en", base_url="http://localhost/")
    assert audit_entries() == []
