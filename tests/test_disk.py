"""A full or unwritable uploads or exports folder: the user reads why, and nothing is left half-done: no media row
without its files and no files without a row, no export job done without its file, no audit entry for an export
never made, no half file. Unwritable as root (who ignores chmod): a folder whose parent is a regular file, or a
read-only mount; full: a small tmpfs, filled."""

import contextlib
import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from cms.extensions import db
from cms.markup import render_comment
from cms.models import AuditLog, Comment, ExportJob, ExportStatus, Media
from tests.factories import make_post
from tests.support.database import fresh
from tests.support.instances import finish_background_exports
from tests.support.outages import app_beside, files_under, fill, tiny_disk
from tests.support.web import Browserish, page_errors

FULL = "disk is full"
REFUSED = "cannot be written to"
SIDE = 128  # a noise PNG of 128×128: ~49 KB, stored twice (the image, and a thumbnail of the same size)


def noise_png(side: int = SIDE) -> bytes:
    """Pixels that do not compress: the stored image and its thumbnail are each about 3 × side² bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def upload(browser, data: bytes):
    token = browser.token_for("/admin/media/new/")
    return browser.post(
        "/admin/media/new/",
        data={"csrf_token": token, "file": (io.BytesIO(data), "photo.png")},
        content_type="multipart/form-data",
    )


@pytest.fixture
def uploads_folder(request, tmp_path):
    """(the uploads folder, the message the user must read), in each way a disk can refuse."""
    way = request.param
    if way == "parent-is-a-file":
        (tmp_path / "a-file").write_bytes(b"not a folder")
        yield tmp_path / "a-file" / "uploads", REFUSED
    elif way == "read-only-disk":
        with tiny_disk(tmp_path / "disk", read_only=True) as disk:
            yield disk / "uploads", REFUSED
    else:  # full, with room for neither file, or for the image and not its thumbnail
        with tiny_disk(tmp_path / "disk") as disk:
            (disk / "uploads").mkdir()
            fill(disk, leave=16 * 1024 if way == "full-mid-image" else 72 * 1024)
            yield disk / "uploads", FULL


@pytest.mark.parametrize(
    "uploads_folder",
    ["parent-is-a-file", "read-only-disk", "full-mid-image", "full-mid-thumbnail"],
    indirect=True,
)
def test_an_upload_the_disk_refuses_is_explained_and_leaves_no_row_and_no_file(app, users, tmp_path, uploads_folder):
    folder, message = uploads_folder
    with app_beside(app, tmp_path / "instance", UPLOADS_DIR=str(folder)) as site:
        author = Browserish(site.test_client())
        author.login(users["author"].email)
        response = upload(author, noise_png())
        assert response.status_code == 200
        assert any(message in error for error in page_errors(response)), page_errors(response)
        assert fresh(sa.select(sa.func.count()).select_from(Media)).scalar() == 0
        assert files_under(folder) == [] and open_files_under(folder) == []


def test_an_upload_fits_once_the_disk_has_room(app, users, tmp_path):
    """The same tiny disk with room for both files takes the upload: the refusals above are the disk's."""
    with tiny_disk(tmp_path / "disk") as disk, app_beside(app, tmp_path / "i", UPLOADS_DIR=str(disk / "up")) as site:
        fill(disk, leave=128 * 1024)
        author = Browserish(site.test_client())
        author.login(users["author"].email)
        assert upload(author, noise_png()).status_code == 302
        [name] = fresh(sa.select(Media.file_name)).scalars().all()
        assert files_under(disk / "up") == [f"images/{name}", f"images/thumbs/{name}"]


# -- exports -----------------------------------------------------------------------------------------------
@pytest.fixture
def comments(app, users):
    """300 pending comments: about 60 KB of csv."""
    post = make_post(users["author"], "published", title="Much discussed")
    body = "A considered comment of some length, " * 5
    db.session.add_all(
        Comment(body=body, body_html=render_comment(body), author=users["reader"], post=post, status="pending")
        for _ in range(300)
    )
    db.session.commit()


@pytest.fixture
def exports_folder(request, app, tmp_path, monkeypatch):
    """The exports folder made to refuse, and the message the moderator must read."""
    way = request.param
    if way == "parent-is-a-file":
        (tmp_path / "a-file").write_bytes(b"not a folder")
        monkeypatch.setitem(app.config, "EXPORTS_DIR", str(tmp_path / "a-file" / "exports"))
        yield tmp_path / "a-file" / "exports", REFUSED
    else:
        with tiny_disk(tmp_path / "disk") as disk:
            (disk / "exports").mkdir()
            fill(disk, leave=8 * 1024)
            monkeypatch.setitem(app.config, "EXPORTS_DIR", str(disk / "exports"))
            yield disk / "exports", FULL


def export_audit_entries() -> list[str]:
    return fresh(sa.select(AuditLog.summary).where(AuditLog.action == "export")).scalars().all()


@pytest.mark.parametrize("exports_folder", ["parent-is-a-file", "full"], indirect=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_streamed_export_the_disk_refuses_is_explained_and_leaves_nothing(
    app, login_as, comments, exports_folder, fmt, monkeypatch
):
    folder, message = exports_folder
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 0)  # streamed through a file in the exports folder
    moderator = login_as("moderator")
    response = moderator.get(f"/admin/comment/export/{fmt}/?flt0_status_equals=pending")
    assert response.status_code == 302
    page = moderator.get(response.headers["Location"])
    assert any(message in text for text in page_errors(page)), page_errors(page)
    assert files_under(folder) == [] and open_files_under(folder) == []
    assert export_audit_entries() == []


@pytest.mark.parametrize("exports_folder", ["parent-is-a-file"], indirect=True)
def test_a_background_export_to_a_folder_that_refuses_is_refused_at_once(
    app, login_as, comments, exports_folder, monkeypatch
):
    folder, message = exports_folder
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0)
    moderator = login_as("moderator")
    response = moderator.get("/admin/comment/export/csv/")
    assert response.status_code == 302
    assert any(message in text for text in page_errors(moderator.get(response.headers["Location"])))
    assert fresh(sa.select(sa.func.count()).select_from(ExportJob)).scalar() == 0
    assert export_audit_entries() == []
    assert files_under(folder) == []


@pytest.mark.parametrize("exports_folder", ["full"], indirect=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_background_export_that_fills_the_disk_fails_with_the_reason_and_no_file(
    app, login_as, comments, exports_folder, fmt, monkeypatch
):
    folder, message = exports_folder
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 0)
    moderator = login_as("moderator")
    response = moderator.get(f"/admin/comment/export/{fmt}/")
    assert response.status_code == 302
    [job] = fresh(sa.select(ExportJob)).scalars().all()
    finish_background_exports(app)
    job = fresh(sa.select(ExportJob).where(ExportJob.id == job.id)).scalar_one()
    assert job.status == ExportStatus.FAILED and message in job.error
    assert job.file_name is None
    assert files_under(folder) == [] and open_files_under(folder) == []
    page = moderator.get(f"/admin/comment/exports/{job.id}/").get_data(as_text=True)
    assert message in page
    assert moderator.get(f"/admin/comment/exports/{job.id}/download").status_code == 410


def open_files_under(path: Path) -> list[str]:
    """Files this process holds open below `path` (a deleted half file still fills the disk while it is open)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(path)):
                found.append(target)
    return found


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_cli_export_to_a_full_disk_says_so_and_leaves_no_half_file(app, comments, tmp_path, fmt):
    with tiny_disk(tmp_path / "disk") as disk:
        fill(disk, leave=8 * 1024)
        result = app.test_cli_runner().invoke(args=["cms", "export-comments", str(disk / f"comments.{fmt}")])
        assert result.exit_code == 1
        assert FULL in result.output and "Traceback" not in result.output
        assert files_under(disk) == ["filler"]
        assert open_files_under(disk) == []  # xlsxwriter's zip file was left open when its write failed
