"""When a signed-in user's last visit is recorded (the factory's `record_last_seen`): at most once in five
minutes, so a busy reader does not write on every request."""

from datetime import UTC, timedelta

import sqlalchemy as sa
import time_machine

from cms.models import User, utcnow
from tests.support.database import fresh


def last_seen(user_id: int):
    return fresh(sa.select(User.last_seen).where(User.id == user_id)).scalar()


def test_last_seen_is_kept_for_five_minutes_and_moves_a_second_later(login_as, users):
    start = utcnow().replace(microsecond=0)
    with time_machine.travel(start.replace(tzinfo=UTC), tick=False) as clock:
        browser = login_as("reader")
        browser.get("/en/")
        assert last_seen(users["reader"].id) == start
        clock.shift(timedelta(seconds=300))
        browser.get("/en/")
        assert last_seen(users["reader"].id) == start
        clock.shift(timedelta(seconds=1))
        browser.get("/en/")
        assert last_seen(users["reader"].id) == start + timedelta(seconds=301)
