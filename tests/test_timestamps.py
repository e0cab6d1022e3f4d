"""cms/timestamps.py: moments to the minute in the viewer's language, UTC on hover."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cms.timestamps import minutes, timestamp
from tests.factories import make_comment, make_post

MOMENT = datetime(2026, 11, 27, 15, 38, 37, 991050)
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d{6}")


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("en", "Nov 27, 2026, 3:38\u202fPM"), ("zh", "2026年11月27日 15:38"), ("es", "27 nov 2026, 15:38")],
)
def test_a_moment_is_shown_to_the_minute_in_the_language(locale, shown):
    assert minutes(MOMENT, locale) == shown


def test_the_time_element_carries_the_moment_for_the_browser_and_utc_on_hover(app):
    with app.test_request_context("/admin/?lang=zh"):
        html = str(timestamp(MOMENT))
    assert html == (
        '<time datetime="2026-11-27T15:38:37Z" lang="zh" title="2026-11-27 15:38 UTC" data-local-time>'
        "2026年11月27日 15:38 UTC</time>"
    )


def test_an_aware_moment_is_shown_in_utc(app):
    with app.test_request_context("/admin/"):
        html = str(timestamp(MOMENT.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=8)))))
    assert 'datetime="2026-11-27T15:38:37Z"' in html and "3:38\u202fPM UTC" in html


def test_console_lists_and_details_show_no_microseconds(login_as, users):
    post = make_post(users["author"], "published", title="Timed")
    comment = make_comment(users["reader"], post, status="pending")
    pages = {
        "/admin/comment/": "moderator",
        f"/admin/comment/details/?id={comment.id}": "moderator",
        "/admin/post/": "editor",
        f"/admin/post/details/?id={post.id}": "editor",
        "/admin/user/": "administrator",
    }
    for url, role in pages.items():
        html = login_as(role).get(url).get_data(as_text=True)
        assert "<time datetime=" in html, url
        assert not MICROSECONDS.search(html), (url, MICROSECONDS.search(html))


def test_parsed_patterns_are_remembered_for_patterns_cached_languages_and_one_more_evicts():
    from babel import localedata

    from cms.timestamps import PATTERNS_CACHED, _patterns

    languages = sorted(code for code in localedata.locale_identifiers() if "_" not in code)[: PATTERNS_CACHED + 1]
    _patterns.cache_clear()
    shown = [minutes(MOMENT, code) for code in languages[:PATTERNS_CACHED]]
    assert _patterns.cache_info().currsize == PATTERNS_CACHED
    assert [minutes(MOMENT, code) for code in languages[:PATTERNS_CACHED]] == shown  # all hits, same text
    assert _patterns.cache_info().misses == PATTERNS_CACHED
    minutes(MOMENT, languages[-1])
    info = _patterns.cache_info()
    assert info.currsize == PATTERNS_CACHED and info.misses == PATTERNS_CACHED + 1
    minutes(MOMENT, languages[0])  # the least recently used went out
    assert _patterns.cache_info().misses == PATTERNS_CACHED + 2
    _patterns.cache_clear()


def babel_minutes(moment: datetime, locale: str) -> str:
    """What babel's own format_date and format_time write, joined as the language joins them: the oracle."""
    from babel import Locale
    from babel.dates import format_date, format_time

    joined = str(Locale.parse(locale).datetime_formats["medium"])
    time = format_time(moment.replace(tzinfo=UTC), "short", tzinfo=UTC, locale=locale)
    return joined.replace("{1}", format_date(moment.date(), "medium", locale=locale)).replace("{0}", time)


@pytest.mark.parametrize("locale", ["en", "es", "zh", "ar", "ko", "fa"])
def test_every_minute_of_a_day_and_every_day_of_a_year_read_as_babel_writes_them(locale):
    day = datetime(2026, 3, 29)  # a day on which some places change their clocks: UTC does not
    for moment in [day + timedelta(minutes=n) for n in range(24 * 60)] + [day + timedelta(days=n) for n in range(366)]:
        assert minutes(moment, locale) == babel_minutes(moment, locale), moment


@pytest.mark.parametrize(
    ("cache", "limit", "keys"),
    [
        ("_date", "DATES_CACHED", lambda n: ("en", datetime(2000, 1, 1).date() + timedelta(days=n))),
        ("_time", "TIMES_CACHED", lambda n: (("en", "zh", "es")[n // 1440], n % 1440 // 60, n % 60)),
    ],
    ids=["days", "minutes"],
)
def test_written_days_and_minutes_are_remembered_up_to_their_limit_and_one_more_evicts(cache, limit, keys):
    from cms import timestamps

    cached, size = getattr(timestamps, cache), getattr(timestamps, limit)
    cached.cache_clear()
    written = [cached(*keys(n)) for n in range(size)]
    assert cached.cache_info().currsize == size
    assert [cached(*keys(n)) for n in range(size)] == written  # all hits, the same text
    assert cached.cache_info().misses == size
    cached(*keys(size))
    assert cached.cache_info().currsize == size and cached.cache_info().misses == size + 1
    cached(*keys(0))  # the least recently used went out
    assert cached.cache_info().misses == size + 2
    cached.cache_clear()
