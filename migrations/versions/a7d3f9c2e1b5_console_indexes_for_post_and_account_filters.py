"""Console indexes for the post list's language filter and the account list's filters and orders

Revision ID: a7d3f9c2e1b5
Revises: f1c3a7e9d2b4
Create Date: 2026-11-28 13:05:00

A filter the list's indexes did not serve read the whole table twice (its capped count, then its page): the posts
in a language 200,008 rows (269 ms), the inactive accounts, those in a language or seen since a date 100,014 rows
(about 70 ms). Every index is added online on MariaDB (ALGORITHM=INPLACE, LOCK=NONE: reads and writes go on while
it builds); the timings on the benchmark data set are in benchmarks/README.md.
"""
import logging
import time

from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d3f9c2e1b5'
down_revision = 'f1c3a7e9d2b4'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

NEW_INDEXES = [
    ("post", "ix_post_locale_updated", ["locale", "updated_at"]),
    ("user", "ix_user_active_member_since", ["active", "member_since"]),
    ("user", "ix_user_locale_member_since", ["locale", "member_since"]),
    ("user", "ix_user_last_seen", ["last_seen"]),
    ("user", "ix_user_confirmed_at", ["confirmed_at"]),
]


def _online() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade():
    for table, name, columns in NEW_INDEXES:
        started = time.perf_counter()
        if _online():
            op.execute(f"ALTER TABLE `{table}` ADD INDEX `{name}` ({', '.join(f'`{c}`' for c in columns)}), "
                       "ALGORITHM=INPLACE, LOCK=NONE")
        else:
            op.create_index(name, table, columns)
        log.info("%s: %.2f s", name, time.perf_counter() - started)


def downgrade():
    for table, name, _ in reversed(NEW_INDEXES):
        if _online():
            op.execute(f"ALTER TABLE `{table}` DROP INDEX `{name}`, ALGORITHM=INPLACE, LOCK=NONE")
        else:
            op.drop_index(name, table_name=table)
