"""What an export should contain, read back from its bytes, and the rows it should hold, from a join."""

import csv
import io

import openpyxl
import sqlalchemy as sa

from cms.models import Comment, Post, User
from tests.support.database import fresh

ENGLISH_HEADER = ["ID", "Post title", "Post URL", "Author username", "Author email", "Status", "Created at (UTC)",
                  "Comment"]  # fmt: skip


def expected_rows(status: str | None = None, base_url: str = "http://localhost") -> list[list]:
    """The selected comments as an export shows them, read with a plain join (no look-up caches)."""
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
            st,
            created.isoformat(timespec="seconds") + "Z",
            body,
        ]  # fmt: skip
        for cid, title, locale, slug, username, email, st, created, body in fresh(query).all()
    ]


def read_xlsx(data: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def read_csv(data: bytes) -> list[list]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
