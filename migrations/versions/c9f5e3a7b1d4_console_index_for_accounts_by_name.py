"""Console index for the account list sorted by name

Revision ID: c9f5e3a7b1d4
Revises: b8e4d2f6a1c3
Create Date: 2026-11-28 18:10:00

Sorted by name, the account list read and sorted every account to show 20 (50,027 rows, 75-96 ms on the benchmark
data set). The index is added online on MariaDB (ALGORITHM=INPLACE, LOCK=NONE: reads and writes go on while it
builds); the time on the benchmark data set is in benchmarks/README.md.
"""
import logging
import time

from alembic import op


# revision identifiers, used by Alembic.
revision = 'c9f5e3a7b1d4'
down_revision = 'b8e4d2f6a1c3'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _online() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade():
    started = time.perf_counter()
    if _online():
        op.execute("ALTER TABLE `user` ADD INDEX `ix_user_name` (`name`), ALGORITHM=INPLACE, LOCK=NONE")
    else:
        op.create_index("ix_user_name", "user", ["name"])
    log.info("ix_user_name: %.2f s", time.perf_counter() - started)


def downgrade():
    if _online():
        op.execute("ALTER TABLE `user` DROP INDEX `ix_user_name`, ALGORITHM=INPLACE, LOCK=NONE")
    else:
        op.drop_index("ix_user_name", table_name="user")
