"""A full-text index of the usernames alone, for the filter "author's username contains"

Revision ID: c2d6e8f1a4b9
Revises: a7d3f9c2e6b8
Create Date: 2026-11-29 01:40:00

The post list's filter "author's username contains" asks which accounts hold the text in their username. The
search table's one index covers the email, username and name together, so for a text most addresses hold ("a", in
every example.com) it matched every account, and the usernames were read one by one instead (50,007 index entries,
23 ms, on the benchmark data set). An index of the username alone finds the accounts whose username holds it
(cms.search.column_holders).

MariaDB with Mroonga only: SQLite's FTS5 table and a database without the search tables are left as they are. The
ALTER builds the index in place and locks the search table meanwhile (Mroonga does not take LOCK=NONE), so a change
to an account's name waits for it: 0.1 s for the benchmark's 50,000 accounts (benchmarks/README.md).
"""
import logging
import time

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2d6e8f1a4b9'
down_revision = 'a7d3f9c2e6b8'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _on_mroonga() -> bool:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return False
    engine = op.get_bind().scalar(
        sa.text(
            "SELECT engine FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'user_search'"
        )
    )
    return engine == "Mroonga"


def upgrade():
    if not _on_mroonga():
        return
    started = time.perf_counter()
    op.execute(
        "ALTER TABLE `user_search` ADD FULLTEXT INDEX `ft_user_search_username` (`username`) "
        "COMMENT 'tokenizer \"TokenBigramSplitSymbolAlphaDigit\"', ALGORITHM=INPLACE"
    )
    log.info("user_search: username index: %.2f s", time.perf_counter() - started)


def downgrade():
    if _on_mroonga():
        op.execute("ALTER TABLE `user_search` DROP INDEX `ft_user_search_username`")
