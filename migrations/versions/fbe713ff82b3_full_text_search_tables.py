"""Full-text search tables for the console's searches: comment bodies, post titles and slugs, accounts

Revision ID: fbe713ff82b3
Revises: c3f1a9d2e8b7
Create Date: 2026-11-28 10:00:00

SQLite: FTS5 tables with the trigram tokenizer over the columns (external content: the index only), kept in
sync by triggers.

MariaDB: Mroonga tables (storage mode, TokenBigramSplitSymbolAlphaDigit: bigrams for every script, so fragments
and Chinese are found) holding a copy of the searched columns, kept in sync by triggers. MariaDB fires no
trigger for rows removed by ON DELETE CASCADE, so deleting a post or an account removes its comments' (and
posts') search rows first, in BEFORE DELETE triggers; cms.search joins back to the real tables anyway, so a
stray row never matches. Nothing here locks or rebuilds comment, post or user: the search tables are new, the
triggers take a metadata lock for an instant, and the backfill reads in primary-key slices at READ COMMITTED
(no row locks) and ignores rows the triggers wrote meanwhile. Without the Mroonga engine (`SHOW ENGINES`) the
tables are left out and cms.search searches with LIKE; install mariadb-plugin-mroonga, then run this migration
again (`flask db downgrade c3f1a9d2e8b7 && flask db upgrade`). Timings on the benchmark data set are in
benchmarks/README.md.

A later migration that rebuilds comment, post or user on SQLite (batch mode) drops their triggers with the old
table: it must create them again.
"""
import logging
import time

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fbe713ff82b3'
down_revision = 'c3f1a9d2e8b7'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# search table: (source table, searched columns)
SEARCHED = {
    "comment_search": ("comment", ("body",)),
    "post_search": ("post", ("title", "slug")),
    "user_search": ("user", ("email", "username", "name")),
}
MARIADB_COLUMNS = {
    "body": "MEDIUMTEXT NOT NULL",
    "title": "VARCHAR(255) NOT NULL",
    "slug": "VARCHAR(255) NOT NULL",
    "email": "VARCHAR(255) NOT NULL",
    "username": "VARCHAR(64) NOT NULL",
    "name": "VARCHAR(64) NULL",
}
BACKFILL_SLICE = 10_000


def _mariadb() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def _timed(label, statement):
    started = time.perf_counter()
    op.execute(statement)
    log.info("%s: %.2f s", label, time.perf_counter() - started)


def _mroonga_available() -> bool:
    support = op.get_bind().scalar(sa.text("SELECT support FROM information_schema.engines WHERE engine = 'Mroonga'"))
    return support in ("YES", "DEFAULT")


# -- SQLite: FTS5, trigram ------------------------------------------------------------------------------
def _sqlite_upgrade():
    for search, (source, columns) in SEARCHED.items():
        cols = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {search} USING fts5({cols}, content='{source}', content_rowid='id', "
            "tokenize='trigram')"
        )
        op.execute(
            f'CREATE TRIGGER {search}_ai AFTER INSERT ON "{source}" BEGIN '
            f"INSERT INTO {search} (rowid, {cols}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f'CREATE TRIGGER {search}_ad AFTER DELETE ON "{source}" BEGIN '
            f"INSERT INTO {search} ({search}, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f'CREATE TRIGGER {search}_au AFTER UPDATE OF {cols} ON "{source}" BEGIN '
            f"INSERT INTO {search} ({search}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {search} (rowid, {cols}) VALUES (new.id, {new}); END"
        )
        _timed(f"{search}: index", f"INSERT INTO {search} ({search}) VALUES ('rebuild')")


def _sqlite_downgrade():
    for search in SEARCHED:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {search}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {search}")


# -- MariaDB: Mroonga, bigrams --------------------------------------------------------------------------
def _mariadb_upgrade():
    if not _mroonga_available():
        log.warning("Mroonga is not installed: no search tables; the console searches with LIKE (slow on big tables)")
        return
    for search, (source, columns) in SEARCHED.items():
        definitions = ", ".join(f"`{c}` {MARIADB_COLUMNS[c]}" for c in columns)
        _timed(
            f"{search}: create",
            f"CREATE TABLE `{search}` (`id` INT NOT NULL PRIMARY KEY, {definitions}, "
            f"FULLTEXT INDEX `ft_{search}` ({', '.join(f'`{c}`' for c in columns)}) "
            "COMMENT 'tokenizer \"TokenBigramSplitSymbolAlphaDigit\"') "
            "ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
        )
    _mariadb_triggers()
    isolation = op.get_bind().scalar(sa.text("SELECT @@SESSION.tx_isolation"))
    op.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    try:
        for search, (source, columns) in SEARCHED.items():
            _backfill(search, source, columns)
    finally:
        op.execute("COMMIT")
        op.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {isolation.replace('-', ' ')}")


def _mariadb_triggers():
    for search, (source, columns) in SEARCHED.items():
        cols = ", ".join(f"`{c}`" for c in columns)
        new = ", ".join(f"NEW.`{c}`" for c in columns)
        changed = " OR ".join(f"NOT (BINARY NEW.`{c}` <=> BINARY OLD.`{c}`)" for c in columns)
        _timed(
            f"{search}: insert trigger",
            f"CREATE TRIGGER `{search}_ai` AFTER INSERT ON `{source}` FOR EACH ROW "
            f"REPLACE INTO `{search}` (`id`, {cols}) VALUES (NEW.`id`, {new})",
        )
        # Moderation updates only the status: the search row is left alone then.
        _timed(
            f"{search}: update trigger",
            f"CREATE TRIGGER `{search}_au` AFTER UPDATE ON `{source}` FOR EACH ROW "
            f"IF {changed} THEN REPLACE INTO `{search}` (`id`, {cols}) VALUES (NEW.`id`, {new}); END IF",
        )
        _timed(
            f"{search}: delete trigger",
            f"CREATE TRIGGER `{search}_ad` AFTER DELETE ON `{source}` FOR EACH ROW "
            f"DELETE FROM `{search}` WHERE `id` = OLD.`id`",
        )
    # ON DELETE CASCADE fires no trigger on MariaDB: remove what a post's or an account's deletion takes with it.
    _timed(
        "post: cascade trigger",
        "CREATE TRIGGER `search_post_bd` BEFORE DELETE ON `post` FOR EACH ROW "
        "DELETE FROM `comment_search` WHERE `id` IN (SELECT `id` FROM `comment` WHERE `post_id` = OLD.`id`)",
    )
    _timed(
        "user: cascade trigger",
        "CREATE TRIGGER `search_user_bd` BEFORE DELETE ON `user` FOR EACH ROW BEGIN "
        "DELETE FROM `comment_search` WHERE `id` IN (SELECT `id` FROM `comment` WHERE `author_id` = OLD.`id`); "
        "DELETE FROM `comment_search` WHERE `id` IN (SELECT c.`id` FROM `comment` c JOIN `post` p "
        "ON p.`id` = c.`post_id` WHERE p.`author_id` = OLD.`id`); "
        "DELETE FROM `post_search` WHERE `id` IN (SELECT `id` FROM `post` WHERE `author_id` = OLD.`id`); "
        "END",
    )


def _backfill(search, source, columns):
    """Copy the rows in primary-key slices, each its own short transaction; rows the triggers already wrote
    (newer) are kept (INSERT IGNORE)."""
    bind = op.get_bind()
    top = bind.scalar(sa.text(f"SELECT COALESCE(MAX(`id`), 0) FROM `{source}`"))
    cols = ", ".join(f"`{c}`" for c in columns)
    started = time.perf_counter()
    for low in range(0, top, BACKFILL_SLICE):
        op.execute(
            f"INSERT IGNORE INTO `{search}` (`id`, {cols}) SELECT `id`, {cols} FROM `{source}` "
            f"WHERE `id` > {low} AND `id` <= {low + BACKFILL_SLICE}"
        )
        op.execute("COMMIT")
    log.info("%s: backfill of %d ids: %.2f s", search, top, time.perf_counter() - started)


def _mariadb_downgrade():
    for name in ("search_post_bd", "search_user_bd") + tuple(
        f"{search}_{suffix}" for search in SEARCHED for suffix in ("ai", "au", "ad")
    ):
        op.execute(f"DROP TRIGGER IF EXISTS `{name}`")
    for search in SEARCHED:
        op.execute(f"DROP TABLE IF EXISTS `{search}`")


def upgrade():
    if _mariadb():
        _mariadb_upgrade()
    else:
        _sqlite_upgrade()


def downgrade():
    if _mariadb():
        _mariadb_downgrade()
    else:
        _sqlite_downgrade()
