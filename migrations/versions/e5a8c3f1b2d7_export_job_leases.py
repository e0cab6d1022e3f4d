"""Export jobs hold a lease: when they started, their heartbeat, the claim's token, the job run again

Revision ID: e5a8c3f1b2d7
Revises: 5b8e2f3c1d7a
Create Date: 2026-12-02 09:00:00

A job whose worker died (restart, deploy, out of memory) is found by its stale heartbeat and failed, instead of
staying "running" for good (cms.leases). Four nullable columns and one index on export_job; existing rows keep
their state.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'e5a8c3f1b2d7'
down_revision = '5b8e2f3c1d7a'
branch_labels = None
depends_on = None

PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", PreciseDateTime, nullable=True))
        batch_op.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("retried_as", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_export_job_status_heartbeat_at", ["status", "heartbeat_at"], unique=False)


def downgrade():
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_index("ix_export_job_status_heartbeat_at")
        batch_op.drop_column("retried_as")
        batch_op.drop_column("lease_token")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("started_at")
