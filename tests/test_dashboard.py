"""The console front page's figures (cms/dashboard.py) at their boundaries: the chart's days and the week of
new accounts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from cms.dashboard import attention, comments_per_day, writer_work
from cms.extensions import db
from cms.models import PostStatus, User
from tests.factories import make_comment, make_post

NOON = datetime(2024, 5, 20, 12, 0, 0)


@pytest.fixture
def clock():
    with time_machine.travel(NOON.replace(tzinfo=UTC), tick=False) as traveller:
        yield traveller


def test_the_chart_counts_the_first_of_its_days_and_not_the_day_before(users, clock):
    post = make_post(users["author"], PostStatus.PUBLISHED)
    for days_ago in (2, 3):
        comment = make_comment(users["reader"], post, body=f"{days_ago} days ago")
        comment.created_at = NOON.replace(hour=0) - timedelta(days=days_ago)  # the first second of that day
    db.session.commit()
    chart = comments_per_day(days=3)
    assert [day.isoformat() for day, _ in chart] == ["2024-05-18", "2024-05-19", "2024-05-20"]
    assert [n for _, n in chart] == [1, 0, 0]


def test_new_accounts_count_from_exactly_a_week_ago(users, clock):
    for name, age in (("weekold", timedelta(days=7)), ("older", timedelta(days=7, seconds=1))):
        db.session.add(User(email=f"{name}@example.com", username=name, fs_uniquifier=name, member_since=NOON - age))
    db.session.commit()
    assert attention()["new_users_week"] == len(users) + 1


@pytest.mark.parametrize(("drafts", "listed", "count", "exact"), [(2, 2, 2, True), (3, 2, 2, False)])
def test_a_figure_lists_list_items_rows_and_counts_up_to_the_cap(users, monkeypatch, drafts, listed, count, exact):
    monkeypatch.setattr("cms.dashboard.LIST_ITEMS", 2)
    monkeypatch.setattr("cms.dashboard.COUNT_CAP", 2)
    for _ in range(drafts):
        make_post(users["author"], PostStatus.DRAFT)
    figure = writer_work(users["author"])["my_drafts"]
    assert (len(figure.rows), figure.count, figure.exact) == (listed, count, exact)


def test_comments_on_an_authors_posts_count_from_exactly_thirty_days_ago(users, clock):
    post = make_post(users["author"], PostStatus.PUBLISHED)
    for age in (timedelta(days=30), timedelta(days=30, seconds=1)):
        comment = make_comment(users["reader"], post, body=str(age), status="approved")
        comment.created_at = NOON - age
    db.session.commit()
    figure = writer_work(users["author"])["comments_on_mine"]
    assert [comment.body for comment in figure.rows] == [str(timedelta(days=30))]
