"""How a moment is shown: to the minute, in the viewer's language; the browser moves it into the viewer's time zone
(static/local_time.js), and the UTC time stays on hover and for pages read without scripts."""

from datetime import UTC, datetime

from babel import Locale
from babel.dates import format_date, format_time
from flask_babel import get_locale
from markupsafe import Markup

DEFAULT_LOCALE = "en"


def minutes(value: datetime, locale: str | None = None) -> str:
    """`value` (naive UTC, as stored) to the minute in UTC, in the language's medium date and short time
    ("Nov 27, 2026, 3:38 PM", "2026年11月27日 15:38")."""
    locale = locale or str(get_locale() or DEFAULT_LOCALE)
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    date, time = format_date(moment, "medium", locale=locale), format_time(moment, "short", tzinfo=UTC, locale=locale)
    return str(Locale.parse(locale).datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)


def timestamp(value: datetime | None) -> Markup:
    """A <time> element for `value`: its text in UTC until the browser shows it in the viewer's time zone, its title
    the UTC time to the minute."""
    if value is None:
        return Markup("")
    moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    locale = str(get_locale() or DEFAULT_LOCALE)
    return Markup('<time datetime="{iso}Z" lang="{lang}" title="{utc} UTC" data-local-time>{text} UTC</time>').format(
        iso=moment.isoformat(timespec="seconds"),
        lang=locale,
        utc=f"{moment:%Y-%m-%d %H:%M}",
        text=minutes(moment, locale),
    )
