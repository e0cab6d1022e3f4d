"""What an export says about itself, on its first sheet: when it was made, the comment list's filters and search in
words, and the order of its rows (the list's, or id order and why), in the moderator's language."""

from __future__ import annotations

from datetime import datetime

from flask_babel import force_locale, format_datetime, gettext
from flask_babel import lazy_gettext as _l

from cms.comments import STATUS_LABELS, CommentSelection
from cms.exports.rows import ID_ORDER, RowOrder, catalogs_up_to_date, neutralise

Line = tuple[str, object]  # a label and its value: text, a number or a datetime (naive UTC)


def about_export(
    selection: CommentSelection,
    asked: RowOrder | None,
    used: RowOrder,
    locale: str,
    exported_at: datetime,
    rows: int,
) -> list[Line]:
    """The lines of the About sheet; text neutralised (a search, an author, a translator's words)."""
    catalogs_up_to_date()
    with force_locale(locale):
        lines: list[Line] = [
            (gettext("Exported at (UTC)"), exported_at),
            (gettext("Exported at"), format_datetime(exported_at, "long")),
            (gettext("Comments"), rows),
            (gettext("Order"), describe_order(asked, used)),
        ]
        filters = describe_filters(selection)
        lines += filters or [(gettext("Filters"), gettext("None: every comment"))]
    return [(neutralise(label), neutralise(value) if isinstance(value, str) else value) for label, value in lines]


# The selection's fields the About sheet names, in the list's order, each with its label (the status has its own
# line first: its value is a label too).
FILTER_LINES = (
    ("post_id", _l("Post ID")),
    ("post_title", _l("Post title contains")),
    ("author", _l("Author")),
    ("created_from", _l("Created on or after (UTC)")),
    ("created_before", _l("Created before (UTC)")),
    ("search", _l("Search")),
)


def describe_filters(selection: CommentSelection) -> list[Line]:
    """The list's filters and search that are set, one line each, in the current locale."""
    lines: list[Line] = []
    if selection.status:
        lines.append((gettext("Status"), str(STATUS_LABELS.get(selection.status, selection.status))))
    for field, label in FILTER_LINES:
        value = getattr(selection, field)
        if value is not None and value != "":  # post 0 is a filter (it matches nothing)
            lines.append((str(label), value))
    return lines


def describe_order(asked: RowOrder | None, used: RowOrder) -> str:
    """The rows' order in words; when it is not the list's, why."""
    if used != ID_ORDER:
        if used.column == "created_at":
            if used.descending:
                return gettext("Newest first, as in the comment list")
            return gettext("Oldest first, as in the comment list")
        if used.descending:
            return gettext("By status in reverse, then by ID, as in the comment list")
        return gettext("By status, then by ID, as in the comment list")
    if asked is not None and asked != ID_ORDER:
        return gettext(
            "By ID, not in the comment list's order: a search's matches cannot be read in that order without "
            "sorting them all"
        )
    return gettext("By ID")
