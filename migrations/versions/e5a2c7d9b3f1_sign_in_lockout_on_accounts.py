"""Sign-in lockout on accounts

Revision ID: e5a2c7d9b3f1
Revises: d4e7b1c2a9f0
Create Date: 2026-12-01 09:00:00

Three columns on user: failed sign-ins counted since the first of them, and the end of a temporary lock (see
cms/throttle.py). Existing accounts start with no failures and no lock.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a2c7d9b3f1'
down_revision = 'd4e7b1c2a9f0'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN, which SQLite (3.35+) and MariaDB both do in place: a batch rebuild of user on SQLite
    # would drop the search triggers on it (see fbe713ff82b3).
    op.add_column("user", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("user", sa.Column("failed_logins_since", sa.DateTime(), nullable=True))
    op.add_column("user", sa.Column("locked_until", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("user", "locked_until")
    op.drop_column("user", "failed_logins_since")
    op.drop_column("user", "failed_logins")
