"""Two-factor sign-in: Flask-Security's fields on user

Revision ID: e5b2c8d1f4a7
Revises: e5a8c3f1b2d7
Create Date: 2026-12-01 09:00:00

Four nullable columns on user, empty for everyone: the method, its encrypted secret, a phone number (unused),
and the recovery codes' keyed hashes. Staff whose role requires a second factor set it up at their next sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b2c8d1f4a7'
down_revision = 'e5a8c3f1b2d7'
branch_labels = None
depends_on = None


# Not batch mode: on SQLite it would rebuild user and drop the search triggers (fbe713ff82b3) with the old
# table. SQLite adds and (from 3.35) drops a column in place.
COLUMNS = (
    sa.Column("tf_primary_method", sa.String(length=64), nullable=True),
    sa.Column("tf_totp_secret", sa.String(length=255), nullable=True),
    sa.Column("tf_phone_number", sa.String(length=128), nullable=True),
    sa.Column("mf_recovery_codes", sa.JSON(), nullable=True),
)


def upgrade():
    for column in COLUMNS:
        op.add_column("user", column.copy())


def downgrade():
    for column in reversed(COLUMNS):
        op.drop_column("user", column.name)
