"""Translators' catalog entries and the catalogs' revision, in the database

Revision ID: d4e7b1c2a9f0
Revises: fbe713ff82b3
Create Date: 2026-11-29 09:00:00

What translators save leaves the checkout's translations/*.po: every app instance builds its catalogs from
the committed .po with these rows on top, and rebuilds when catalog_revision's token changes. Two new
tables; nothing existing is touched.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'd4e7b1c2a9f0'
down_revision = 'fbe713ff82b3'
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "catalog_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("msgkey", sa.String(length=16), nullable=False),
        sa.Column("msgctxt", sa.Text(), nullable=True),
        sa.Column("msgid", LongText, nullable=False),
        sa.Column("msgid_plural", sa.Text(), nullable=True),
        sa.Column("forms", LongText, nullable=False),
        sa.Column("fuzzy", sa.Boolean(), nullable=False),
        sa.Column("updated_at", PreciseDateTime, nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["user.id"], name=op.f("fk_catalog_entry_updated_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entry")),
        sa.UniqueConstraint("locale", "msgkey", name=op.f("uq_catalog_entry_locale")),
    )
    with op.batch_alter_table("catalog_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entry_updated_by_id"), ["updated_by_id"], unique=False)

    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_revision")),
    )
    op.execute("INSERT INTO catalog_revision (id, token) VALUES (1, '')")


def downgrade():
    op.drop_table("catalog_revision")
    op.drop_table("catalog_entry")  # with its index (MariaDB refuses to drop the index its foreign key needs)
