"""Translations remember the original they were reviewed against; translators' languages

Revision ID: b7d4e2a9c6f3
Revises: e5b2c8d1f4a7
Create Date: 2026-11-27 08:30:00

post_translation gains what it was last marked current against (the original's content_changed_at, title and
body then) and a version for optimistic locking; user gains the languages a translator works in (empty: every
language but the site's default).

Existing translations: one saved within a second before the original's last change was saved in the same form
(the save that wrote the translation then stamped the original: issue "a brand-new translation is flagged out of
date"), or after it, is current against the original's text now. An older one keeps its save time and the text of
the original's last revision before it, so the workspace can show what changed since.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = 'b7d4e2a9c6f3'
down_revision = 'e5b2c8d1f4a7'
branch_labels = None
depends_on = None

PRECISE = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')
SAME_SAVE = 1.0  # seconds: a translation stamped this much before the original was written by the same save



def new_columns():
    return (
        sa.Column('source_changed_at', PRECISE, nullable=True),
        sa.Column('source_title', sa.String(length=255), nullable=True),
        sa.Column('source_body', LONG_TEXT, nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    )


# Typed, so that SQLite's stored text comes back as datetimes.
post = sa.table(
    'post', sa.column('id', sa.Integer), sa.column('title', sa.String), sa.column('body', sa.Text),
    sa.column('content_changed_at', PRECISE),
)
translation = sa.table(
    'post_translation', sa.column('id', sa.Integer), sa.column('post_id', sa.Integer),
    sa.column('updated_at', PRECISE), sa.column('source_changed_at', PRECISE), sa.column('source_title', sa.String),
    sa.column('source_body', sa.Text),
)
revision_table = sa.table(
    'post_revision', sa.column('id', sa.Integer), sa.column('post_id', sa.Integer),
    sa.column('created_at', PRECISE), sa.column('title', sa.String), sa.column('body', sa.Text),
    sa.column('kind', sa.String),
)


def upgrade():
    # Not batch mode: SQLite adds and (from 3.35) drops a column in place, and rebuilding user would drop its
    # search triggers.
    for column in new_columns():
        op.add_column('post_translation', column)
    op.add_column('user', sa.Column('languages', sa.String(length=255), nullable=True))
    backfill_sources()


def backfill_sources():
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(translation.c.id, translation.c.post_id, translation.c.updated_at, post.c.content_changed_at)
        .join(post, post.c.id == translation.c.post_id)
    ).all()
    for translation_id, post_id, updated_at, changed_at in rows:
        if updated_at is None or changed_at is None:
            continue
        if (changed_at - updated_at).total_seconds() <= SAME_SAVE:
            source = conn.execute(
                sa.select(post.c.content_changed_at, post.c.title, post.c.body).where(post.c.id == post_id)
            ).one()
        else:
            text = conn.execute(
                sa.select(revision_table.c.title, revision_table.c.body)
                .where(revision_table.c.post_id == post_id, revision_table.c.kind != 'conflict',
                       revision_table.c.created_at <= updated_at)
                .order_by(revision_table.c.id.desc())
                .limit(1)
            ).first()
            source = (updated_at, *(text or (None, None)))
        conn.execute(
            translation.update()
            .where(translation.c.id == translation_id)
            .values(source_changed_at=source[0], source_title=source[1], source_body=source[2])
        )


def downgrade():
    op.drop_column('user', 'languages')
    for column in reversed(new_columns()):
        op.drop_column('post_translation', column.name)
