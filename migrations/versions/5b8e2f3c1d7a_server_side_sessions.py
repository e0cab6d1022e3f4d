"""Server-side sessions: the server_session table, and every account's fs_uniquifier renewed

Revision ID: 5b8e2f3c1d7a
Revises: e5a2c7d9b3f1
Create Date: 2026-12-01 09:00:00

Without Redis, sessions are kept in server_session (with Redis, the table stays empty). Sessions used to live in
the cookie, and "remember me" was Flask-Login's remember cookie, which names only the account: copies of either
taken before this release would keep working. Renewing every fs_uniquifier (what a password change does) ends
them all; everyone signs in once more.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b8e2f3c1d7a'
down_revision = 'e5a2c7d9b3f1'
branch_labels = None
depends_on = None

# A new random 32-hex-digit value per row, computed by the database (no row-by-row round trips).
NEW_UNIQUIFIER = {
    "sqlite": "lower(hex(randomblob(16)))",
    "mysql": "REPLACE(UUID(), '-', '')",
    "mariadb": "REPLACE(UUID(), '-', '')",
}


def upgrade():
    op.create_table(
        "server_session",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("expiry", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_server_session")),
    )
    with op.batch_alter_table("server_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_server_session_expiry"), ["expiry"], unique=False)

    user = sa.table("user", sa.column("fs_uniquifier"))
    op.execute(user.update().values(fs_uniquifier=sa.literal_column(NEW_UNIQUIFIER[op.get_bind().dialect.name])))


def downgrade():
    op.drop_table("server_session")
