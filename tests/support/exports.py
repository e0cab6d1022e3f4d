"""What an export should contain, read back from its bytes, and the rows it should hold, from a join."""

import csv
import io
import shutil
import subprocess  # nosec B404
from datetime import datetime
from pathlib import Path

import openpyxl
import sqlalchemy as sa

from cms.exports.rows import csv_text
from cms.models import Comment, Post, User
from tests.support.database import fresh

ENGLISH_HEADER = ["ID", "Post title", "Post URL", "Author username", "Author email", "Status", "Created at (UTC)",
                  "Comment"]  # fmt: skip
ENGLISH_STATUSES = {"pending": "Pending", "approved": "Approved", "hidden": "Hidden"}


def expected_rows(status: str | None = None, base_url: str = "http://localhost", labelled: bool = False) -> list[list]:
    """The selected comments as an export's rows hold them, read with a plain join (no look-up caches), in id
    order; `labelled`: statuses as an English file shows them (the rows alone carry their codes)."""
    query = (
        sa.select(
            Comment.id,
            Post.title,
            Post.locale,
            Post.slug,
            User.username,
            User.email,
            Comment.status,
            Comment.created_at,
            Comment.body,
        )  # fmt: skip
        .join(Post, Post.id == Comment.post_id)
        .join(User, User.id == Comment.author_id)
        .where(Comment.status == status if status else sa.true())
        .order_by(Comment.id)
    )
    return [
        [
            cid,
            title,
            f"{base_url}/{locale}/posts/{slug}",
            username,
            email,
            ENGLISH_STATUSES[st] if labelled else st,
            created.isoformat(timespec="seconds") + "Z",
            body,
        ]  # fmt: skip
        for cid, title, locale, slug, username, email, st, created, body in fresh(query).all()
    ]


def newest_first(rows: list[list]) -> list[list]:
    """expected_rows in the comment list's default order (comments made one after another: later ids are newer)."""
    return sorted(rows, key=lambda row: (row[6], row[0]), reverse=True)


def in_xlsx(rows: list[list]) -> list[list]:
    """expected_rows as an xlsx holds them: the date a datetime (naive UTC), to the second."""
    return [[*row[:6], datetime.fromisoformat(row[6].removesuffix("Z")), *row[7:]] for row in rows]


def read_xlsx(data: bytes) -> list[list]:
    """The rows of the sheet a spreadsheet opens on (the Comments sheet)."""
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def read_csv(data: bytes) -> list[list]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def libreoffice(source: Path, convert_to: str, outdir: Path, profile: Path) -> list[Path]:
    """`soffice --headless --convert-to` as a person's LibreOffice would open and save the file (its own profile
    folder, so other LibreOffice processes on the machine are no bother); the files it wrote. A conversion keeps
    no view settings (the frozen header, the sheet shown): LibreOffice applies those to a window, and has none."""
    command = [shutil.which("soffice") or "soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
               "--convert-to", convert_to, "--outdir", str(outdir), str(source)]  # fmt: skip
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.iterdir())
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    written = sorted(set(outdir.iterdir()) - before)
    assert written, f"LibreOffice wrote nothing for {convert_to}"
    return written


def module_csv(chunks) -> str:
    """What the csv module writes for `export_rows`' chunks: the oracle."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for rows in chunks:
        writer.writerows(rows)
    return buffer.getvalue()


def database_csv(*args, **kwargs) -> tuple[str, list[int]]:
    parts = list(csv_text(*args, **kwargs))
    return "".join(text for text, _ in parts), [rows for _, rows in parts]
