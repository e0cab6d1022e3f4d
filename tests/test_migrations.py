"""Migrations build exactly the models' schema from empty, on every database under test."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from cms.cli import MIGRATIONS_DIR
from cms.extensions import db
from cms.search import SEARCH_TABLES, is_search_table
from tests.support.database import drop_everything, make_app


def _not_a_search_table(name, type_, parent_names):
    return not (type_ == "table" and name and is_search_table(name))


def test_upgrade_from_empty_matches_the_models(app, tmp_path):
    # A separate app on the same database URL, so the shared schema is rebuilt only for this test.
    fresh_app = make_app("mariadb" if db.engine.dialect.name == "mysql" else "sqlite", tmp_path)
    with fresh_app.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as conn:
            opts = {"compare_type": True, "render_as_batch": True, "include_name": _not_a_search_table}
            context = MigrationContext.configure(conn, opts=opts)
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(db.inspect(db.engine).get_table_names())
        assert {"user", "role", "roles_users", "post", "comment", "follow", "alembic_version"} <= tables
        if db.engine.dialect.name == "sqlite" or _mroonga_installed():
            assert set(SEARCH_TABLES) <= tables


def _mroonga_installed() -> bool:
    with db.engine.connect() as conn:
        support = conn.scalar(sa.text("SELECT support FROM information_schema.engines WHERE engine = 'Mroonga'"))
    return support in ("YES", "DEFAULT")
