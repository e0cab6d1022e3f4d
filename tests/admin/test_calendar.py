"""The editorial calendar (/admin/calendar/): a month of scheduled and published posts per language, each linked
to its post, month by month; editors see all posts, authors their own; bad months are a 400."""

import re
from datetime import datetime

import pytest
import time_machine

from cms.editorial_calendar import Month, month_of_posts
from tests.factories import make_post, make_translation
from tests.support.database import count_statements

NOW = datetime(2026, 11, 15, 12, 0)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def cell(html: str, day: str) -> str:
    found = re.search(rf'<td class="calendar-day" data-day="{day}">(.*?)</td>', html, re.S)
    return found.group(1) if found else ""


def test_a_month_shows_published_and_scheduled_posts_on_their_days_linked_to_them(login_as, users, clock):
    live = make_post(users["editor"], "published", title="Live story", published_at=datetime(2026, 11, 3, 9, 30))
    soon = make_post(users["author"], "published", title="Tomorrow's story", published_at=datetime(2026, 11, 16, 7))
    make_post(users["author"], "draft", title="A draft")
    make_post(users["editor"], "published", title="October story", published_at=datetime(2026, 10, 31, 23, 59))
    html = login_as("editor").get("/admin/calendar/").get_data(as_text=True)
    assert 'data-month="2026-11"' in html
    third = cell(html, "2026-11-03")
    assert "Live story" in third and f'href="/admin/post/edit/?id={live.id}"' in third and "09:30" in third
    sixteenth = cell(html, "2026-11-16")
    assert "Tomorrow&#39;s story" in sixteenth and "Scheduled" in sixteenth and f"?id={soon.id}" in sixteenth
    assert "A draft" not in html and "October story" not in html
    october = login_as("editor").get("/admin/calendar/?month=2026-10").get_data(as_text=True)
    assert "October story" in cell(october, "2026-10-31")


def test_each_language_of_a_post_is_shown_and_one_language_can_be_chosen(login_as, users, clock):
    post = make_post(users["editor"], "published", title="Elections", published_at=datetime(2026, 11, 5, 8))
    make_translation(post, "es", title="Elecciones")
    make_translation(post, "zh", title="选举", current=False)
    only_english = make_post(users["editor"], "published", title="Local only", published_at=datetime(2026, 11, 5, 9))
    editor = login_as("editor")
    fifth = cell(editor.get("/admin/calendar/?month=2026-11").get_data(as_text=True), "2026-11-05")
    assert 'data-locale="en" data-state="original"' in fifth
    assert 'data-locale="es" data-state="current"' in fifth and "Elecciones" in fifth
    assert 'data-locale="zh" data-state="outdated"' in fifth and "选举" in fifth
    spanish = cell(editor.get("/admin/calendar/?month=2026-11&lang=es").get_data(as_text=True), "2026-11-05")
    assert "Elecciones" in spanish and "Elections" not in spanish and only_english.title not in spanish


def test_authors_see_their_own_posts_only(login_as, users, clock):
    make_post(users["author"], "published", title="Mine", published_at=datetime(2026, 11, 20, 10))
    make_post(users["editor"], "published", title="Not mine", published_at=datetime(2026, 11, 20, 11))
    html = login_as("author").get("/admin/calendar/").get_data(as_text=True)
    assert "Mine" in html and "Not mine" not in html


@pytest.mark.parametrize("role", ["reader", "moderator", "translator"])
def test_roles_that_do_not_write_are_refused(login_as, role):
    assert login_as(role).get("/admin/calendar/").status_code == 403


def test_months_link_to_the_previous_and_the_next(login_as, clock):
    editor = login_as("editor")
    html = editor.get("/admin/calendar/?month=2026-01&lang=es").get_data(as_text=True)
    assert 'href="/admin/calendar/?month=2025-12&amp;lang=es"' in html
    assert 'href="/admin/calendar/?month=2026-02&amp;lang=es"' in html
    first = editor.get("/admin/calendar/?month=0001-01").get_data(as_text=True)
    assert 'id="previous-month"' not in first and 'id="next-month"' in first
    last = editor.get("/admin/calendar/?month=9999-12")
    assert last.status_code == 200 and 'id="next-month"' not in last.get_data(as_text=True)


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "0000-05", "26-11", "2026-1", "november", "2026-11-01", "9"])
def test_a_month_not_in_yyyy_mm_is_a_400_that_says_so(login_as, month):
    response = login_as("editor").get("/admin/calendar/", query_string={"month": month})
    assert response.status_code == 400
    assert "YYYY-MM" in response.get_data(as_text=True)


def test_an_unknown_language_is_a_400(login_as):
    response = login_as("editor").get("/admin/calendar/?lang=fr")
    assert response.status_code == 400 and "not one of the site&#39;s languages" in response.get_data(as_text=True)


@pytest.mark.parametrize(("posts", "more"), [(3, 0), (4, 1)])
def test_a_day_lists_day_posts_posts_and_links_the_rest(app, users, clock, posts, more):
    for hour in range(posts):
        make_post(users["editor"], "published", published_at=datetime(2026, 11, 9, hour))
    with app.test_request_context():
        days = month_of_posts(users["editor"], Month(2026, 11), None, ["en", "zh", "es"], day_posts=3)
    [day] = days.values()
    assert (len(day.entries), day.total, day.more) == (min(posts, 3), posts, more)
    assert [entry.post.published_at.hour for entry in day.entries] == [0, 1, 2]


def test_the_more_link_opens_the_days_posts_in_the_list(login_as, users, clock, monkeypatch):
    monkeypatch.setattr("cms.editorial_calendar.DAY_POSTS", 1)
    for hour in (8, 9):
        make_post(users["editor"], "published", title=f"At {hour}", published_at=datetime(2026, 11, 9, hour))
    make_post(users["editor"], "published", title="Next day", published_at=datetime(2026, 11, 10, 0))
    editor = login_as("editor")
    nine = cell(editor.get("/admin/calendar/").get_data(as_text=True), "2026-11-09")
    link = re.search(r'class="calendar-more" href="([^"]+)">1 more', nine).group(1).replace("&amp;", "&")
    listing = editor.get(link).get_data(as_text=True)
    assert "At 8" in listing and "At 9" in listing and "Next day" not in listing


def test_the_more_link_keeps_the_calendars_language_and_the_days_last_second(login_as, users, clock, monkeypatch):
    """The list's "between … 23:59:59" left out a post at 23:59:59.5, and the link dropped the language chosen."""
    monkeypatch.setattr("cms.editorial_calendar.DAY_POSTS", 1)
    make_post(users["editor"], "published", title="At dawn", published_at=datetime(2026, 11, 9, 0, 0))
    make_post(users["editor"], "published", title="At midnight", published_at=datetime(2026, 11, 9, 23, 59, 59, 500000))
    make_translation(
        make_post(users["editor"], "published", title="Translated", published_at=datetime(2026, 11, 9, 12)), "es"
    )
    make_post(users["editor"], "published", title="Escrito", locale="es", published_at=datetime(2026, 11, 9, 13))
    make_post(users["editor"], "published", title="Next day", published_at=datetime(2026, 11, 10, 0))
    editor = login_as("editor")
    titles = ("At dawn", "At midnight", "Translated", "Escrito", "Next day")
    for lang, listed in (
        (None, {"At dawn", "At midnight", "Translated", "Escrito"}),
        ("es", {"Translated", "Escrito"}),
    ):
        month = editor.get("/admin/calendar/" + (f"?lang={lang}" if lang else "")).get_data(as_text=True)
        more = re.search(r'class="calendar-more" href="([^"]+)">', cell(month, "2026-11-09")).group(1)
        listing = editor.get(more.replace("&amp;", "&")).get_data(as_text=True)
        assert {title for title in titles if title in listing} == listed, lang


def test_the_post_lists_language_filter_holds_posts_written_in_it_or_translated_into_it(login_as, users):
    written = make_post(users["editor"], "published", title="Escrito", locale="es")
    make_translation(make_post(users["editor"], "published", title="Translated"), "es")
    make_post(users["editor"], "published", title="English only")
    listing = login_as("editor").get("/admin/post/?flt0_language_readable_in=es").get_data(as_text=True)
    assert "Escrito" in listing and "Traducción" not in listing and "Translated" in listing
    assert "English only" not in listing and written.locale == "es"
    assert login_as("editor").get("/admin/post/?flt0_language_readable_in=xx").status_code == 200


def test_a_month_is_read_in_a_fixed_number_of_statements(login_as, users, clock):
    editor = login_as("editor")
    make_post(users["editor"], "published", published_at=datetime(2026, 11, 2, 8))
    few = count_statements(editor, "/admin/calendar/")
    for day in range(3, 28):
        post = make_post(users["editor"], "published", published_at=datetime(2026, 11, day, 8))
        make_translation(post, "es")
    assert count_statements(editor, "/admin/calendar/") == few
