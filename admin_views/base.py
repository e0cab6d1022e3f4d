"""What every staff console view shares: permission checks, row scoping, CSRF forms, 404 for unknown ids."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.filters import FilterLike, FilterNotLike
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_admin.model import typefmt
from flask_admin.model.fields import AjaxSelectField
from flask_admin.model.template import DeleteRowAction, EditRowAction, TemplateLinkRowAction, ViewRowAction
from flask_babel import get_translations, gettext, lazy_gettext, ngettext
from flask_security import current_user
from jinja2 import pass_context
from jinja2.filters import do_truncate
from markupsafe import escape
from sqlalchemy.orm import joinedload
from wtforms.validators import ValidationError

from cms import outages
from cms.counting import count_up_to, count_within_limit, hits_in_first
from cms.domain import DomainError
from cms.exports import neutralise
from cms.extensions import db
from cms.forms import AppForm
from cms.markup import stored_html
from cms.permissions import Perm, can
from cms.read_ceiling import rows_examined_at_most
from cms.routing import LARGEST_INTEGER, stored_int
from cms.search import Searched, page_clause, search_count
from cms.timestamps import timestamp
from cms.translated_markup import render as render_translation

# Query-string names that Flask-Admin's get_url/url_for would take as their own arguments.
URL_BUILDING_NAMES = {"endpoint", "cls", "values", "method", "self"}

# Which flag turns each Flask-Admin endpoint on.
CAPABILITIES = {
    "create_view": "can_create",
    "edit_view": "can_edit",
    "delete_view": "can_delete",
    "details_view": "can_view_details",
    "export": "can_export",
    "restore_view": "can_edit",
}


# A return address (Flask-Admin's ?url=) is a path of this site: not "//host", "/\\host", a scheme, or text with the
# control characters and white space browsers drop before reading it.
SITE_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f]*")

# What a browser's Fetch Metadata (Sec-Fetch-Site) says of a request another site's page made it send: a link or a
# script there opening an export would run one of the member's exports (a file of every comment, or a background
# job) without their asking. A request typed, bookmarked or sent from this site says "none" or "same-origin"; a
# browser too old to say anything is let through, as before.
FROM_ANOTHER_SITE = ("cross-site", "same-site")


def deny_access():
    """Anonymous users go to the login page (with a same-site `next`); others get a 403 page."""
    if not current_user.is_authenticated:
        next_url = request.full_path.rstrip("?")
        return redirect(url_for("security.login", next=next_url))
    abort(403)


def staff_may(perms: int) -> bool:
    return bool(current_user.is_authenticated and current_user.active and can(perms))


@dataclass
class ListCount:
    """How many rows a list matches: exact, or more than `value` when counting stopped short of the end (at the
    count's cap, or at the ceiling on the rows a statement examines: `stopped`, and `value` says nothing)."""

    value: int
    exact: bool = True
    stopped: bool = False  # not counted: counting would examine more rows than LIST_ROWS_EXAMINED


def _timestamp_formatter(view, value, name):
    return timestamp(value)


def N_(message: str) -> str:  # noqa: N802 (babel's marker for a message translated later)
    return message


# Filters selecting a range of a column's values, which the column's own order reads as one index range.
RANGE_FILTERS = (
    sqla_filters.FilterGreater,
    sqla_filters.FilterSmaller,
    sqla_filters.DateBetweenFilter,
    sqla_filters.DateTimeBetweenFilter,
    sqla_filters.TimeBetweenFilter,
)
SELECT_ROW = N_("Select “%(row)s”")  # a list row's check box, by the row's name
ROW_ID = "0row0id0"  # stands for the row's id while a row link is built: letters and digits, the same quoted


def once_per_request(memo: str, key, make):
    """make() for `key`, kept in `g` under `memo` for the rest of the request: a list page shows the same few labels,
    language names, counts and link patterns on many rows, and each translation or URL built costs more than the
    rest of its cell."""
    known = g.setdefault(memo, {})
    if key not in known:
        known[key] = make()
    return known[key]


def labels_once(name: str, labels: dict) -> dict:
    """`labels` (lazy strings by code) translated once per request; `name` tells the sets apart."""
    return once_per_request("translated_labels", name, lambda: {code: str(label) for code, label in labels.items()})


class RowLink(TemplateLinkRowAction):
    """Flask-Admin's view or edit icon, its macro (templates/admin/model/row_actions.html) rendered once per page
    with a stand-in id that each row replaces: the macro and its url_for cost more than the rest of a row."""

    def __init__(self, action: TemplateLinkRowAction):
        super().__init__(action.template_name, action.title)

    def render(self, context, row_id, row):
        # A macro of an autoescaped template: Markup, whose replace() escapes the id.
        pattern = once_per_request("row_links", self, lambda: super(RowLink, self).render(context, ROW_ID, row))
        return pattern.replace(ROW_ID, quote(str(row_id), safe=""), 1)


SEGMENT_SAFE = "!$&'()*+,/:;=@"  # what Werkzeug's string converter leaves unquoted in a path segment


def row_url(endpoint: str, fixed: dict | None = None, **varying) -> str:
    """url_for(endpoint, **fixed, **varying) for one row among many, with one varying value: the URL is built once per
    request for each `fixed` with a stand-in that each row replaces. A string value must be a path segment of the
    route (`slug` in /<locale>/posts/<slug>), quoted here as Werkzeug's string converter quotes it; an integer may
    also be a query argument (?id=)."""
    ((name, value),) = varying.items()
    values: dict[str, Any] = {**(fixed or {}), name: ROW_ID}
    pattern = once_per_request("row_urls", (endpoint, *sorted(values.items())), lambda: url_for(endpoint, **values))
    text = str(value) if isinstance(value, int) else quote(str(value), safe=SEGMENT_SAFE)
    return pattern.replace(ROW_ID, text, 1)


@dataclass
class ShownRow:
    """What a list row shows: its key, the name its check box is read out by, and its cells in column order."""

    pk: object
    name: str
    cells: list[tuple[str, object]]


LIKE_ESCAPE = "/"  # escapes "%" and "_" in literal_like's patterns (a backslash would need escaping itself in MySQL)


def literal_like(term: str) -> str:
    """The LIKE pattern of a search term or a "contains" filter's text, as Flask-Admin reads them ("^" starts it,
    "=" is it whole, otherwise contained: tools.parse_like_term), with the text's own "%" and "_" matched as typed:
    Flask-Admin passed them on as wildcards, so a search for "50%" listed every row holding "50"."""
    text = term[1:] if term.startswith(("^", "=")) else term
    text = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    if term.startswith("^"):
        return f"{text}%"
    return text if term.startswith("=") else f"%{text}%"


def literal_search_clause(columns: list, search: str):
    """Flask-Admin's search over `columns` (every space-separated term in one of them), each term literal_like."""
    terms = [term for term in search.split(" ") if term]
    return sa.and_(
        sa.true(),
        *(
            sa.or_(*(sa.cast(column, sa.Unicode).ilike(literal_like(term), escape=LIKE_ESCAPE) for column in columns))
            for term in terms
        ),
    )


class LiteralContains(FilterLike):
    """Flask-Admin's "contains", the text's "%" and "_" matched as typed (literal_like)."""

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias).ilike(literal_like(value), escape=LIKE_ESCAPE))


class LiteralNotContaining(FilterNotLike):
    """Flask-Admin's "not contains", the text's "%" and "_" matched as typed (literal_like)."""

    def apply(self, query, value, alias=None):
        return query.filter(~self.get_column(alias).ilike(literal_like(value), escape=LIKE_ESCAPE))


class ReplacingFilter:
    """A filter that takes the place of one Flask-Admin built (`like`)."""

    @classmethod
    def like(cls, flt):
        """In place of Flask-Admin's filter `flt`: its column, name, options and join (found by its key_name), so
        that it keeps its place, label and URL argument."""
        replaced = cls(flt.column, flt.name, flt.options, flt.data_type)
        replaced.key_name = flt.key_name
        return replaced


class FewValuesContains(ReplacingFilter, FilterLike):
    """Flask-Admin's "contains" on a column of a few distinct values (a status, a language): an IN over those of the
    column's values that contain the text, ignoring case. The values are read through the column's index (a loose
    scan of a handful of entries), and the IN reads the matching rows through it too, where the LIKE on each row
    read every post (200,008 rows, 1.6 s, for a text no status holds)."""

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias).in_(self.values_containing(value)))

    def values_containing(self, value: str) -> list[str]:
        """The column's values the text selects, as Flask-Admin's LIKE would: contained, or with "^" at its start
        and "=" whole (tools.parse_like_term)."""
        text = value.strip().lower()
        present = db.session.scalars(sa.select(self.column).where(self.column.is_not(None)).distinct())
        if text.startswith("^"):
            return [held for held in present if held.lower().startswith(text[1:])]
        if text.startswith("="):
            return [held for held in present if held.lower() == text[1:]]
        return [held for held in present if text in held.lower()]


class FewValuesNotContaining(FewValuesContains):
    """Flask-Admin's "not contains" on such a column: its other values (a row without a value, as with the LIKE,
    is not listed)."""

    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        return query.filter(column.is_not(None), column.not_in(self.values_containing(value)))

    def operation(self):
        return FilterNotLike.operation(self)


FEW_VALUES_FILTERS = {LiteralContains: FewValuesContains, LiteralNotContaining: FewValuesNotContaining}


def replace_filters(filters: list, replacements: dict) -> list:
    """`filters` (Flask-Admin's, for one column), each of a type in `replacements` put in place by its replacement
    (ReplacingFilter.like)."""
    return [replacements[type(flt)].like(flt) if type(flt) in replacements else flt for flt in filters]


# A moment in a filter is given to the second (the picker's "2026-11-29 23:59:59"); stored moments keep microseconds.
# Each filter below takes the whole second it names: "between … and 23:59:59" holds 23:59:59.5.
SECOND = timedelta(seconds=1)


def _after_second(moment: datetime) -> datetime | None:
    """The first moment after the second `moment` names (None after the last second there is)."""
    return moment + SECOND if moment < datetime.max - SECOND else None


def _within(column, start: datetime, end: datetime):
    after = _after_second(end)
    return (column >= start) & (column < after) if after else column >= start


def _outside(column, start: datetime, end: datetime):
    after = _after_second(end)
    return (column < start) | (column >= after) if after else column < start


class WholeSecondEqual(sqla_filters.DateTimeEqualFilter):
    def apply(self, query, value, alias=None):
        return query.filter(_within(self.get_column(alias), value, value))


class WholeSecondNotEqual(sqla_filters.DateTimeNotEqualFilter):
    def apply(self, query, value, alias=None):
        return query.filter(_outside(self.get_column(alias), value, value))


class WholeSecondGreater(sqla_filters.DateTimeGreaterFilter):
    def apply(self, query, value, alias=None):
        after = _after_second(value)
        return query.filter(self.get_column(alias) >= after if after else sa.false())


class WholeSecondBetween(sqla_filters.DateTimeBetweenFilter):
    def apply(self, query, value, alias=None):
        return query.filter(_within(self.get_column(alias), *value))


class WholeSecondNotBetween(sqla_filters.DateTimeNotBetweenFilter):
    def apply(self, query, value, alias=None):
        return query.filter(_outside(self.get_column(alias), *value))


class ConsoleFilterConverter(sqla_filters.FilterConverter):
    strings = (LiteralContains, LiteralNotContaining, *sqla_filters.FilterConverter.strings[2:])
    datetime_filters = (
        WholeSecondEqual, WholeSecondNotEqual, WholeSecondGreater, sqla_filters.DateTimeSmallerFilter,
        WholeSecondBetween, WholeSecondNotBetween, sqla_filters.FilterEmpty,
    )  # fmt: skip


class StaffModelView(ModelView):
    """Base for the console's model views: declare `required` and, for row rules, override `scope`."""

    required: int = Perm.ADMIN
    form_base_class = AppForm
    page_size = 50
    can_set_page_size = True
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    export_max_rows = 10_000
    list_template = "admin/cms_list.html"
    # The column whose text names a row, for its check box ("Select “…”"); None: the first listed column.
    row_name_column: str | None = None
    # The search table of the columns the search box reads (cms.search: POST_TITLES, ACCOUNTS), or None. With it,
    # a search's count comes from the search table alone, and a page of a common term is read along the list's
    # order (page_search_clause) instead of through every match.
    searched: Searched | None = None
    # Filtered columns of a few distinct values (a status, a language): "contains" becomes an IN over those values
    # (FewValuesContains), read through the column's index.
    few_values_columns: tuple[str, ...] = ()
    filter_converter = ConsoleFilterConverter()
    named_filter_urls = True  # readable, stable filter links: ?flt1_status_equals=pending
    # Flask-Admin's COUNT(*) of every match on every page view is replaced by count_matches() (capped).
    simple_list_pager = True
    # Moments to the minute in the viewer's language and time zone, not str(datetime) with its microseconds.
    column_type_formatters = {**typefmt.BASE_FORMATTERS, datetime: _timestamp_formatter}
    column_type_formatters_detail = {**typefmt.DETAIL_FORMATTERS, datetime: _timestamp_formatter}

    def __init__(self, model, **kwargs):
        super().__init__(model, db, **kwargs)
        self.page_size = current_app.config["ADMIN_PAGE_SIZE"]  # views are built inside the app context

    def is_accessible(self) -> bool:
        return staff_may(self.required)

    def scaffold_filters(self, name):
        filters = super().scaffold_filters(name)
        if name not in self.few_values_columns or not filters:
            return filters
        return replace_filters(filters, FEW_VALUES_FILTERS)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _handle_view(self, name, **kwargs):
        """After the permission check, a capability the view does not offer is a 404, not a quiet redirect; a
        return address off this site is a 400. Flask-Admin lets `?url=http:evil.example` through (it reads as a
        relative URL) and Werkzeug sends it on as `Location: http:///evil.example`, which browsers follow off-site.
        So are an `export_type` among the page's arguments (Flask-Admin's export links, built with the page's
        arguments, named it twice: a 500) and a NUL character in any (SQLite's full-text MATCH failed on it). An export
        that another site's page started is a 403 (FROM_ANOTHER_SITE)."""
        response = super()._handle_view(name, **kwargs)
        if response is None:
            flag = CAPABILITIES.get(name)
            if flag and not getattr(self, flag):
                abort(404)
            back = request.values.get("url")
            if back and not SITE_PATH.fullmatch(back):
                abort(400, gettext("The return address must be a page of this site."))
            if "export_type" in request.args:  # Flask-Admin's export links pass it as well as the page's arguments
                abort(400, gettext("The address names an export type: exports have addresses of their own."))
            if name == "export" and request.headers.get("Sec-Fetch-Site") in FROM_ANOTHER_SITE:
                abort(403, gettext("Exports start from the console's own pages: open the list here and choose Export."))
            if any("\x00" in value for _, value in request.args.items(multi=True)):
                abort(400, gettext("The address holds a NUL character, which no search or filter can hold."))
        return response

    def handle_action(self, return_view=None):
        """An action the user may not run is refused with 403 instead of being ignored."""
        name = request.form.get("action", "")
        if name not in self._actions_data:
            abort(400, gettext("Unknown action."))
        if not self.is_action_allowed(name):
            abort(403)
        return super().handle_action(return_view)

    def handle_view_exception(self, exc: Exception) -> bool:
        """An outage (MariaDB or Redis not answering) goes on to the 503 page, instead of Flask-Admin's "Failed to
        create record" flash quoting the statement over a form that cannot be saved."""
        if outages.is_outage(exc):
            raise exc
        if isinstance(exc, sa.exc.IntegrityError):
            # Flask-Admin flashed the refused statement, values and all, in English. The forms check unique fields
            # before saving; what reaches here was saved by someone else between that check and this save.
            flash(
                gettext(
                    "This was not saved: a change saved meanwhile conflicts with it (the same name, address or slug,"
                    " or a record it refers to was deleted). Check the form and save again."
                ),
                "error",
            )
            return True
        return super().handle_view_exception(exc)

    def enforce(self, rule, *args) -> None:
        """Run a service's rule from a Flask-Admin hook: a refusal becomes the form error (or, on delete,
        the flash) Flask-Admin shows, and nothing is saved."""
        try:
            rule(*args)
        except DomainError as exc:
            raise ValidationError(str(exc)) from None

    # -- look-ups for relation pickers (select2 over AJAX) ------------------------------------------------
    LOOKUP_LIMIT = 20  # rows one look-up returns at most, whatever `limit` it asks for

    def may_look_up(self, name: str) -> bool:
        """Whether the current user may search the relation field `name` (one who may not set it may not)."""
        return True

    @expose("/ajax/lookup/")
    def ajax_lookup(self):
        name = request.args.get("name", "")
        loader = self._form_ajax_refs.get(name)
        if loader is None:
            abort(404)
        if not self.may_look_up(name):
            abort(403)
        limit = min(max(request.args.get("limit", 10, type=int) or 10, 1), self.LOOKUP_LIMIT)
        offset = max(request.args.get("offset", 0, type=stored_int) or 0, 0)
        rows = loader.get_list(request.args.get("query", "")[:100], offset, limit)
        return jsonify([loader.format(row) for row in rows])

    def get_list_row_actions(self):
        """View and edit on each row; deleting is the bulk action (check the row, With selected → Delete), so a
        list page does not render a form with its own CSRF token on every row. View and edit are Flask-Admin's
        links, built once per page (`RowLink`) instead of once per row."""
        return [
            RowLink(row_action) if type(row_action) in (ViewRowAction, EditRowAction) else row_action
            for row_action in super().get_list_row_actions()
            if not isinstance(row_action, DeleteRowAction)
        ]

    def delete_form(self):
        """None on a list page: its rows carry no delete form (`get_list_row_actions`), but Flask-Admin's index_view
        builds one for every page anyway, with its CSRF token and a read of WTForms' catalog (~1 ms of a 15-20 ms
        page). The delete view, the form's only user, builds it as before."""
        return None if self.listing() else super().delete_form()

    def get_export_value(self, model, name):
        """Every cell of the console's csv exports (posts, users, the audit log…) with formula starts made inert,
        by the same function as the comment exports (cms.exports.neutralise)."""
        value = super().get_export_value(model, name)
        if value is None or isinstance(value, int | float | bool):
            return value
        return neutralise(str(value))  # names of related rows too: a username can start with "="

    def get_url(self, endpoint, /, **kwargs):
        """Flask-Admin's templates pass the whole query string to get_url (`**request.args`): names that are
        url_for's own arguments are dropped, so `?endpoint=x` or `?_external=1` cannot steer a link."""
        kwargs = {
            key: value for key, value in kwargs.items() if not key.startswith("_") and key not in URL_BUILDING_NAMES
        }
        return super().get_url(endpoint, **kwargs)

    def _get_list_extra_args(self):
        """The list's query string, less names that would steer Flask-Admin's URL building instead of being
        carried along (`?endpoint=x`, url_for's `_external`, `_anchor`, …): those made every list answer 500."""
        view_args = super()._get_list_extra_args()
        view_args.extra_args = {
            key: value
            for key, value in view_args.extra_args.items()
            if not key.startswith("_") and key not in URL_BUILDING_NAMES
        }
        return view_args

    def search_clause(self, search: str):
        """What the search box's text selects in this list: here Flask-Admin's LIKE over the model's own
        `column_searchable_list`, each term literal (literal_search_clause); a list with a full-text index says
        so here (cms.search). None: Flask-Admin's own search (a column of a related model)."""
        if any(path for _column, path in self._search_fields):
            return None
        return literal_search_clause([column for column, _path in self._search_fields], search)

    def page_search_clause(self, search: str):
        """The search's clause for a page in the list's order where a different plan reads fewer rows than
        the set search_clause selects (an index walk for common terms), or None. Counts use search_clause.
        Decided once per request (`common_terms_clause`)."""
        cap = self.count_cap()
        return once_per_request(
            "page_search_clauses", (self.endpoint, search, cap), lambda: self.common_terms_clause(search, cap)
        )

    def common_terms_clause(self, search: str, cap: int | None):
        """page_search_clause's answer, worked out: with a search table, cms.search.page_clause."""
        return None if self.searched is None else page_clause(self.searched, search, cap)

    def _apply_search(self, query, count_query, joins, count_joins, search):
        clause = None if g.get("counting_matches") else self.page_search_clause(search)
        if clause is None:
            clause = self.search_clause(search)
        if clause is None:
            return super()._apply_search(query, count_query, joins, count_joins, search)
        return (
            query.filter(clause),
            (count_query.filter(clause) if count_query is not None else None),
            joins,
            count_joins,
        )

    def scope(self, query):
        """The row-level rule: the rows the current user may see and touch. Default: all rows."""
        return query

    # -- lists at a newsroom's size ------------------------------------------------------------------
    # A page is read in two steps: the ids of the page (from an index, in the list's order, with the primary
    # key breaking ties), then only those rows with what the list shows (`list_row_options`). Counting stops
    # at LIST_COUNT_CAP unless asked for the exact figure, and offsets past LIST_MAX_OFFSET are refused.
    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, query = super().get_list(page, sort_column, sort_desc, search, filters, False, page_size)
        if not execute:
            return count, query
        size = self.page_size if page_size is None else page_size
        ceiling = current_app.config["LIST_ROWS_EXAMINED"] if self.listing() else None
        ids: list = []
        with rows_examined_at_most(ceiling) as reading:
            counted = query
            if search and self.page_search_clause(search) is not None:
                g.counting_matches = True
                try:
                    _, counted = super().get_list(page, sort_column, sort_desc, search, filters, False, page_size)
                finally:
                    g.counting_matches = False
            # The exact count, asked for, reads what it takes.
            with rows_examined_at_most(ceiling if self.count_cap() is not None else None) as counting:
                g.list_count = self.count_matches(counted, filters, search)
            if counting.exceeded:
                g.list_count = ListCount(0, exact=False, stopped=True)
            g.list_too_deep = bool(size) and (page or 0) * size >= current_app.config["LIST_MAX_OFFSET"] > 0
            if g.list_too_deep:
                return g.list_count.value, []
            keys = self._key_columns()
            if len(keys) != 1:
                return g.list_count.value, query.all()
            ids = self.page_ids(query, keys[0], page or 0, size, (sort_column, sort_desc), bool(search or filters))
        g.list_too_wide = reading.exceeded  # the page's own statements stopped: what they found is not the page
        if g.list_too_wide:
            g.sorts_by_filtered = self.sorts_by_filtered(filters, sort_column)
        if g.list_too_wide or not ids:
            return g.list_count.value, []
        rows = self.rows_by_id(ids)
        return g.list_count.value, [rows[i] for i in ids if i in rows]

    def page_ids(self, query, key, page: int, size: int, order: tuple, narrowed: bool) -> list:
        """The ids of the page's rows in the list's order: `query`'s (the list's, with its order and page). A view
        whose order an index cannot serve may read them its own way; `order` is (sort column, descending), and
        `narrowed` says whether a filter or a search is applied."""
        return [row[0] for row in query.with_entities(key)]

    def rows_by_id(self, ids: list) -> dict:
        """The rows of `ids` by id, from `get_query` (so within `scope`). The list page loads what it shows
        (`list_row_options`); other readers (the csv export) get Flask-Admin's related rows."""
        pk = self._key_columns()[0]
        options = self._row_options() if self.listing() else []
        options = options or [joinedload(join) for join in self._auto_joins]
        return {getattr(row, pk.key): row for row in self.get_query().options(*options).filter(pk.in_(ids))}

    def listing(self) -> bool:
        """Whether this request shows the list page (not an export or an action reading the same rows)."""
        return request.endpoint == f"{self.endpoint}.index_view"

    @pass_context
    def shown_row(self, context, row) -> ShownRow:
        """A row's key, check-box name and formatted cells in one call from the list template, where Flask-Admin's
        template calls get_value once per cell and get_pk_value three times: each call from a template costs more
        than most cells' formatting (about 3 of a 20-comment page's 12 ms)."""
        columns = context["list_columns"]
        cells = [
            (c, self._get_list_value(context, row, c, self.column_formatters, self.column_type_formatters))
            for c, _ in columns
        ]
        named_by = self.row_name_column or (columns[0][0] if columns else None)
        pk = self.get_pk_value(row)
        if named_by is None:
            name = str(pk)
        else:
            value = next((value for c, value in cells if c == named_by), None)
            if value is None:
                value = self.get_list_value(context, row, named_by)
            name = do_truncate(context.environment, escape(value).striptags(), 60)  # plain text stays as it is
        return ShownRow(pk, self._select_label(name), cells)

    @staticmethod
    def _select_label(name: str) -> str:
        """The check box's label, "Select “…”", with the message translated once per request."""
        msgstr = once_per_request("msgstrs", SELECT_ROW, lambda: get_translations().ugettext(SELECT_ROW))
        return render_translation(SELECT_ROW, msgstr, {"row": name}, autoescape=False)

    def _key_columns(self) -> list:
        return [getattr(self.model, column.key) for column in sa.inspect(self.model).primary_key]

    def list_row_options(self) -> list:
        """Loader options for the rows of a list page: only what the list shows."""
        return []

    def _row_options(self) -> list:
        """list_row_options, built once per view: SQLAlchemy finds a statement built with the same option objects
        in its compiled cache sooner (0.8 of 2.5 ms for a 20-comment page's rows)."""
        if "_built_row_options" not in self.__dict__:
            self._built_row_options = self.list_row_options()
        return self._built_row_options

    def known_count(self, filters, search, cap: int | None) -> ListCount | None:
        """A count the view gets more cheaply than by counting the list's rows (a counter table, the search
        index alone), stopping at `cap` (None: exact); or None to count the rows.

        With a search table (`searched`): a search alone over every row is counted in the search table; a common
        term with filters or a row rule is counted among the first `cap` rows those select (counting through its
        matches would read them all)."""
        if self.searched is None or not search:
            return None
        if not filters and self.sees_every_row():
            counted = search_count(self.searched, search, cap)
            if counted is not None:
                return ListCount(*counted)
        clause = self.page_search_clause(search)
        if cap is not None and clause is not None:
            return self.count_within_budget(filters, clause, cap)
        return None

    def sees_every_row(self) -> bool:
        """Whether `scope` lets the current user see every row (a count of the whole table is then theirs)."""
        return type(self).scope is StaffModelView.scope

    def count_within_budget(self, filters, clause, budget: int) -> ListCount:
        """The rows matching `clause` among the first `budget` rows that the filters and `scope` select, the
        clause tested on each row: exact when those hold fewer than `budget` rows, else a lower bound."""
        _, query = super().get_list(None, None, False, None, filters, execute=False, page_size=0)
        found, examined = hits_in_first(query.order_by(None).statement, clause, budget)
        return ListCount(found, exact=examined < budget)

    def count_cap(self) -> int | None:
        """Where the list's count stops (LIST_COUNT_CAP), or None when the exact count was asked for."""
        return None if request.args.get("exact_count") == "1" else current_app.config["LIST_COUNT_CAP"]

    def count_matches(self, query, filters, search) -> ListCount:
        cap = self.count_cap()
        known = self.known_count(filters, search, cap)
        if known is not None:
            return known
        matches = query.with_entities(*self._key_columns()).limit(None).offset(None).order_by(None)
        # A search's clause may hold a full-text MATCH: a COUNT over LIMIT cap + 1 asks the index once, where
        # count_up_to's two branches would ask it twice.
        counter = count_within_limit if search else count_up_to
        found, exact = counter(matches.statement, cap)
        return ListCount(found, exact=exact)

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        """The list's order, made total in the same direction (pages never overlap on ties) by what an index can
        walk with it (`_ties_after`)."""
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        if sort_column is None:
            order = list(self._get_default_order())
            sort_desc = order[0][2] if order else False
            field = order[0][0] if len(order) == 1 else None
        else:
            field = self._sortable_columns.get(sort_column)
        return query.order_by(*(key.desc() if sort_desc else key.asc() for key in self._ties_after(field))), joins

    def _ties_after(self, field) -> list:
        """What follows the sorted field so that no two rows tie, chosen so that an index walks the whole order:
        nothing after a unique column that is never NULL; after a column an index leads, the rest of that index,
        then the primary key (InnoDB's and SQLite's indexes end with the row's key, so an index of the column
        alone, or of it and the key, needs nothing more); otherwise the primary key, and the database sorts.
        With the key alone after the status, MariaDB sorted all 100,000 posts to show 20 (374 ms), where stock
        Flask-Admin's ORDER BY status walks an index (55 ms)."""
        keys = self._key_columns()
        prop = getattr(field, "property", None)
        columns = getattr(prop, "columns", None)
        if not columns or len(columns) != 1 or getattr(columns[0], "table", None) is not self.model.__table__:
            return keys  # a related model's column, or an expression
        column = columns[0]
        table_indexes = sorted(column.table.indexes, key=lambda index: index.name or "")
        unique = (
            column.unique
            or column.primary_key
            or any(index.unique and list(index.columns) == [column] for index in table_indexes)
        )
        if unique and not column.nullable:
            return []
        primary = {key.property.columns[0] for key in keys}
        led = [list(index.columns)[1:] for index in table_indexes if list(index.columns)[:1] == [column]]
        if any(set(rest) <= primary for rest in led):
            return keys
        if led:
            return [*led[0], *(key for key in keys if key.property.columns[0] not in led[0])]
        return keys

    def sorts_by_filtered(self, filters, sort_column) -> list[tuple[str, str]]:
        """(label, URL) of this list sorted by each column a range filter of the request narrows, last first: in the
        column's own order, the filter's rows are one index range (a date filter in the order of the last change
        read the dates of every post changed since)."""
        positions = {name: position for position, (name, _) in enumerate(self._list_columns)}
        labels = dict(self._list_columns)
        query = [(k, v) for k, v in request.args.items(multi=True) if k not in ("sort", "desc", "page")]
        offered: dict[str, tuple[str, str]] = {}
        for index, _, _ in filters or []:
            flt = self._filters[index]
            column = getattr(flt, "column", None)
            name = str(getattr(column, "key", ""))
            if (
                isinstance(flt, RANGE_FILTERS)  # one value, or all but some: the column's order reads no fewer rows
                and getattr(column, "table", None) is self.model.__table__
                and name in positions
                and name in self._sortable_columns
                and positions[name] != sort_column
            ):
                arguments = urlencode([*query, ("sort", positions[name]), ("desc", 1)])
                offered.setdefault(name, (str(labels[name]), f"{request.path}?{arguments}"))
        return list(offered.values())

    def render(self, template, **kwargs):
        if template == self.list_template and "list_count" in g:
            kwargs.setdefault("list_count", g.list_count)
            kwargs.setdefault("list_too_deep", g.list_too_deep)
            kwargs.setdefault("list_too_wide", g.get("list_too_wide", False))
            kwargs.setdefault("sorts_by_filtered", g.get("sorts_by_filtered", []))
            kwargs.setdefault("rows_examined", current_app.config["LIST_ROWS_EXAMINED"])
            query = [(key, value) for key, value in request.args.items(multi=True) if key != "exact_count"]
            kwargs.setdefault("exact_count_url", f"{request.path}?{urlencode([*query, ('exact_count', '1')])}")
        return super().render(template, **kwargs)

    def get_query(self):
        return self.scope(super().get_query())

    def get_count_query(self):
        return self.scope(super().get_count_query())

    def get_one(self, id):
        """One row within `scope`, or 404: drives details, edit and delete alike. An id the database cannot hold
        (not a whole number, past LARGEST_INTEGER) or more than one (`?id=1&id=1`, which Flask-Admin passes on as a
        list) names no row."""
        if not isinstance(id, str) or id.isascii() and id.isdigit() and int(id) > LARGEST_INTEGER:
            abort(404)  # isascii: "²" is a digit that int() refuses (which the query below answers with a 404)
        try:
            row = get_query_for_ids(self.get_query(), self.model, [id]).one_or_none()
        except (ValueError, TypeError):
            row = None
        if row is None:
            abort(404)
        return row

    def validate_form(self, form) -> bool:
        """Flask-Admin's relation fields drop unknown ids silently; treat them as the bad input they are. Its
        type-to-search fields (form_ajax_refs) keep an id they cannot find as submitted and, when the field may be
        empty, save nothing in its place: that is refused the same way."""
        valid = super().validate_form(form)
        if request.method != "POST":
            return valid
        for field in form:
            unknown = False
            if hasattr(field, "_invalid_formdata"):
                field.data  # noqa: B018 (resolving the submitted ids flags unknown ones)
                unknown = field._invalid_formdata
            elif type(field) is AjaxSelectField:
                field.data  # noqa: B018 (a found row replaces the submitted id)
                unknown = field._formdata not in (None, "", "__None")
            if unknown:
                field.errors = [*field.errors, gettext("Not a valid choice")]
                valid = False
        return valid

    def selected_query(self, ids):
        """The rows an action applies to: the checked ones, or with "select all" every row the list's
        current filters and search match. Always within `scope`."""
        if request.form.get("select_all") == "1":
            args = self._get_list_extra_args()
            _, query = self.get_list(None, None, False, args.search, args.filters, execute=False, page_size=0)
            return query
        return get_query_for_ids(self.get_query(), self.model, ids)

    @action("delete", lazy_gettext("Delete"), lazy_gettext("Are you sure you want to delete the selected records?"))
    def action_delete(self, ids):
        rows = self.selected_query(ids).all()
        deleted = sum(1 for row in rows if self.delete_model(row))
        flash(ngettext("%(num)d record was deleted.", "%(num)d records were deleted.", deleted) % {"num": deleted})
        if deleted < len(rows):
            flash(gettext("%(num)d could not be deleted.", num=len(rows) - deleted), "error")

    def filter_url(self, **filters) -> str:
        """The list URL with filters set, by their argument names: filter_url(status_equals=PostStatus.REVIEW)."""
        args = {f"flt{position}_{name}": value for position, (name, value) in enumerate(filters.items())}
        return url_for(f"{self.endpoint}.index_view", **args)

    def adjust_form(self, form, obj=None):
        """Per-request changes to a form (choices, fields the user may not set)."""
        return form

    def create_form(self, obj=None):
        return self.adjust_form(super().create_form(obj), None)

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        # Flask-Admin's Unique validator reads form._obj, which FlaskForm never sets.
        form._obj = obj
        return self.adjust_form(form, obj)


def body_html_formatter(view, context, model, name):
    return stored_html(model.body_html)
