"""When the public content version last moved, for the public pages' Last-Modified

Revision ID: e5a1c7d3b9f2
Revises: c2d6e8f1a4b9
Create Date: 2026-11-29 04:50:00

A page's Last-Modified was the newest stamp among what it shows. Withdrawing the newest post, renaming an author or
a scheduled post going live moved none of those stamps, and a reader asking If-Modified-Since alone got a 304 for
the old page. The content version's row now keeps when it last moved; no page's Last-Modified is older.

A nullable column on a one-row table: instant on both databases. Until the next change it is empty, and pages keep
the stamps they had.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'e5a1c7d3b9f2'
down_revision = 'c2d6e8f1a4b9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('content_version', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('changed_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb'), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('content_version', schema=None) as batch_op:
        batch_op.drop_column('changed_at')
