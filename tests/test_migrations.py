"""Migrations build exactly the models' schema from empty, on every database under test."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from cms.cli import MIGRATIONS_DIR
from cms.extensions import db
from tests.support.database import drop_everything, make_app


def test_upgrade_from_empty_matches_the_models(app, tmp_path):
    # A separate app on the same database URL, so the shared schema is rebuilt only for this test.
    fresh_app = make_app("mariadb" if db.engine.dialect.name == "mysql" else "sqlite", tmp_path)
    with fresh_app.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(db.inspect(db.engine).get_table_names())
        assert {"user", "role", "roles_users", "post", "comment", "follow", "alembic_version"} <= tables
