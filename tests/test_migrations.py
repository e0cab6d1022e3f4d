"""Migrations build exactly the models' schema from empty, on every database under test."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from cms import comment_counts
from cms.cli import MIGRATIONS_DIR
from cms.extensions import db
from cms.models import PostTranslation
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


def insert_author_and_posts(conn, when: datetime, post_ids: tuple[int, ...]) -> None:
    """Account 1 and its published posts `post_ids` ("Title now <id>", "Body now"), written at `when`, as rows of
    an older schema (plain SQL: the models describe the newest)."""
    conn.execute(
        sa.text(
            "INSERT INTO user (id, email, username, active, fs_uniquifier, member_since)"
            " VALUES (1, 'e@example.com', 'e', 1, 'u1', :t)"
        ).bindparams(t=when)
    )
    for post_id in post_ids:
        conn.execute(
            sa.text(
                "INSERT INTO post (id, title, slug, body, body_html, status, author_id, created_at, updated_at,"
                " content_changed_at) VALUES (:id, :title, :slug, 'Body now', '', 'published', 1, :t, :t, :t)"
            ).bindparams(id=post_id, title=f"Title now {post_id}", slug=f"p{post_id}", t=when)
        )


def test_translations_are_given_the_original_they_were_reviewed_against(app, tmp_path):
    """b7d4e2a9c6f3 on existing rows: a translation saved with (or after) the original's last change is current
    against its text; an older one keeps its save time and the original's last revision before it."""
    fresh_app = make_app("mariadb" if db.engine.dialect.name == "mysql" else "sqlite", tmp_path)
    changed = datetime(2026, 11, 20, 12, 0, 0)
    with fresh_app.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR, revision="e5b2c8d1f4a7")
        with db.engine.begin() as conn:
            insert_author_and_posts(conn, changed, post_ids=(1, 2))
            conn.execute(
                sa.text(
                    "INSERT INTO post_revision (post_id, user_id, created_at, title, body, kind) VALUES"
                    " (1, 1, :two_days, 'Old title', 'Old body', 'save'), (1, 1, :now, 'Title now 1', 'Body now', 'save')"
                ).bindparams(two_days=changed - timedelta(days=2), now=changed)
            )
            translations = [
                (1, "es", changed - timedelta(milliseconds=200)),  # written by the same save as the original
                (1, "zh", changed - timedelta(days=1)),  # before the original's last change
                (2, "es", changed + timedelta(hours=1)),  # after it
            ]
            for post_id, locale, saved in translations:
                conn.execute(
                    sa.text(
                        "INSERT INTO post_translation (post_id, locale, title, body, body_html, updated_at)"
                        " VALUES (:p, :l, 'T', 'B', '', :t)"
                    ).bindparams(p=post_id, l=locale, t=saved)
                )
        upgrade(directory=MIGRATIONS_DIR)
        rows = db.session.execute(
            sa.select(
                PostTranslation.post_id, PostTranslation.locale, PostTranslation.source_changed_at,
                PostTranslation.source_title, PostTranslation.source_body, PostTranslation.version,
            ).order_by(PostTranslation.post_id, PostTranslation.locale)
        ).all()  # fmt: skip
        db.session.remove()
    assert [tuple(row) for row in rows] == [
        (1, "es", changed, "Title now 1", "Body now", 1),
        (1, "zh", changed - timedelta(days=1), "Old title", "Old body", 1),
        (2, "es", changed, "Title now 2", "Body now", 1),
    ]


def test_the_counts_per_day_are_filled_from_the_comments(app, tmp_path):
    """a7d3f9c2e6b8 on existing rows: each day's count holds the comments written on it (UTC), its last microsecond
    included; the stored counts then agree with the comments."""
    fresh_app = make_app("mariadb" if db.engine.dialect.name == "mysql" else "sqlite", tmp_path)
    day = datetime(2026, 11, 20)
    with fresh_app.app_context():
        drop_everything(db.engine)
        upgrade(directory=MIGRATIONS_DIR, revision="d4b7e2a9c5f1")
        with db.engine.begin() as conn:
            insert_author_and_posts(conn, day, post_ids=(1,))
            for written in (day, day + timedelta(days=1, microseconds=-1), day + timedelta(days=1)):
                conn.execute(
                    sa.text(
                        "INSERT INTO comment (body, body_html, status, author_id, post_id, created_at)"
                        " VALUES ('c', '', 'approved', 1, 1, :t)"
                    ).bindparams(t=written)
                )
        upgrade(directory=MIGRATIONS_DIR)
        stored = comment_counts.COMMENT_DAYS.stored_counts()
        wrong = comment_counts.COMMENT_DAYS.mismatches()
        db.session.remove()
    assert stored == {day.date(): 2, day.date() + timedelta(days=1): 1}
    assert wrong == {}
