"""Per-status post counts

Revision ID: b8e4d2f6a1c3
Revises: a7d3f9c2e1b5
Create Date: 2026-11-28 15:00:00

The post list's count (of every post, or of one status) read up to 10,001 index entries on every page view
(3.6–4.8 ms of a drafts page on the benchmark data set). The counts are kept exact in the transaction of every
change (cms/post_counts.py), as the comments' are; this fills them from the posts. On MariaDB the fill reads the
posts at READ COMMITTED, so writes to posts do not wait for it; the time on the benchmark data set is in
benchmarks/README.md.
"""
import logging
import time

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e4d2f6a1c3'
down_revision = 'a7d3f9c2e1b5'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    op.create_table(
        "post_status_count",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_post_status_count")),
    )
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # At REPEATABLE READ the INSERT … SELECT would lock every post it reads until it ends.
        op.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    started = time.perf_counter()
    op.execute("INSERT INTO post_status_count (status, n) SELECT status, COUNT(*) FROM post GROUP BY status")
    log.info("Counted the posts by status in %.2f s", time.perf_counter() - started)


def downgrade():
    op.drop_table("post_status_count")
