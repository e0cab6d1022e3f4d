"""The editorial calendar at /admin/calendar/ (WRITE): a month of scheduled and published posts per language, each
linked to its post; editors see every post, authors their own (PostPolicy's rule)."""

from typing import Any

from flask import abort, request, url_for
from flask_admin import BaseView, expose
from flask_babel import format_date
from flask_security import current_user

from admin_views.base import deny_access, staff_may
from cms.editorial_calendar import CalendarError, Month, month_of_posts
from cms.locale import supported_locales
from cms.models import PostStatus
from cms.permissions import Perm


class CalendarView(BaseView):
    def is_accessible(self) -> bool:
        return staff_may(Perm.WRITE)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    @expose("/")
    def index(self):
        locales = supported_locales()
        try:
            month = Month.parse(request.args.get("month"))
            lang = request.args.get("lang") or None
            days = month_of_posts(current_user, month, lang, locales)
        except CalendarError as exc:
            abort(400, str(exc))
        weeks = month.weeks()
        first_week = [day for day in weeks[0] if day] + [day for day in weeks[1] if day]
        weekdays = {day.weekday(): format_date(day, "EEE") for day in first_week}
        return self.render(
            "admin/calendar.html",
            month=month,
            title=format_date(month.first, "LLLL yyyy"),
            weeks=weeks,
            weekdays=[weekdays[n] for n in range(7)],
            days=days,
            lang=lang,
            locales=locales,
            link=lambda **args: url_for(".index", **{"month": str(month), "lang": lang, **args}),
            day_list=lambda day: self._day_list(day, lang),
        )

    def _day_list(self, day, lang: str | None) -> str:
        """The post list of one day's scheduled and published posts in the calendar's language (a day's cell shows
        only its first few). The list's "between" takes the whole last second: 23:59:59.5 is that day's too."""
        span = f"{day.isoformat()} 00:00:00 to {day.isoformat()} 23:59:59"
        filters: dict[str, Any] = {"flt0_status_equals": PostStatus.PUBLISHED, "flt1_published_at_between": span}
        if lang:
            filters["flt2_language_readable_in"] = lang
        return url_for("post.index_view", **filters)
