"""Outgoing mail goes through an outbox table

Revision ID: f1c3a7e9d2b4
Revises: b7d4e2a9c6f3
Create Date: 2026-12-02 09:00:00

One new table, empty: every mail is written to it in the transaction of its change and sent by a worker.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'f1c3a7e9d2b4'
down_revision = 'b7d4e2a9c6f3'
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", LongText, nullable=False),
        sa.Column("html", LongText, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("next_attempt_at", PreciseDateTime, nullable=False),
        sa.Column("started_at", PreciseDateTime, nullable=True),
        sa.Column("heartbeat_at", PreciseDateTime, nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", PreciseDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_mail_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outgoing_mail_recipient"), ["recipient"], unique=False)
        batch_op.create_index(batch_op.f("ix_outgoing_mail_lease_token"), ["lease_token"], unique=False)
        batch_op.create_index("ix_outgoing_mail_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)


def downgrade():
    op.drop_table("outgoing_mail")
