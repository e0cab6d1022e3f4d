"""Pooled connections (cms.end_open_transaction): a connection goes back to the pool with no transaction open on it,
and on MariaDB without a second ROLLBACK after the session's own."""

import pymysql
import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import BlockedWord, utcnow
from tests.support.database import backend_of


def test_a_connection_returned_in_a_transaction_is_rolled_back(app):
    """Whatever hands a connection back with a write neither committed nor rolled back (a raw DBAPI connection
    here), the next user of the pool neither sees the write nor waits on its locks."""
    db.session.remove()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("INSERT INTO blocked_word (word, created_at) VALUES ('left-open', '2026-11-27 12:00:00')")
        cursor.close()
    finally:
        raw.close()  # back to the pool, the transaction still open
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(BlockedWord)) == 0
    with db.engine.begin() as conn:  # the word is free: no lock held on it, no duplicate
        conn.execute(sa.insert(BlockedWord).values(word="left-open", created_at=utcnow()))
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(BlockedWord)) == 1


def test_a_page_request_rolls_back_once_on_mariadb(app, login_as, monkeypatch):
    if backend_of(app) != "mariadb":
        pytest.skip("the reset on return is PyMySQL's")
    browser = login_as("moderator")
    browser.get("/admin/comment/")
    rollbacks, returns = [], []
    rollback = pymysql.connections.Connection.rollback

    def counted(connection):
        rollbacks.append(connection)
        return rollback(connection)

    def returned(dbapi_connection, connection_record):
        returns.append(dbapi_connection)

    monkeypatch.setattr(pymysql.connections.Connection, "rollback", counted)
    sa.event.listen(db.engine, "checkin", returned)
    try:
        assert browser.get("/admin/comment/").status_code == 200
    finally:
        sa.event.remove(db.engine, "checkin", returned)
    # Each connection the request used (its session's, the session store's) was rolled back once before it went
    # back; SQLAlchemy's reset sent a second ROLLBACK after the session's.
    assert returns and len(rollbacks) == len(returns)
