"""Two-factor sign-in: Flask-Security's fields on user

Revision ID: e5b2c8d1f4a7
Revises: d4e7b1c2a9f0
Create Date: 2026-12-01 09:00:00

Four nullable columns on user, empty for everyone: the method, its encrypted secret, a phone number (unused),
and the recovery codes' keyed hashes. Staff whose role requires a second factor set it up at their next sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b2c8d1f4a7'
down_revision = 'd4e7b1c2a9f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tf_primary_method", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tf_totp_secret", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("tf_phone_number", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("mf_recovery_codes", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("mf_recovery_codes")
        batch_op.drop_column("tf_phone_number")
        batch_op.drop_column("tf_totp_secret")
        batch_op.drop_column("tf_primary_method")
