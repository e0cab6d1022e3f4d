"""What every staff console view shares: permission checks, row scoping, CSRF forms, 404 for unknown ids."""

from datetime import timedelta

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_babel import gettext, lazy_gettext, ngettext
from flask_security import current_user
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from cms.dashboard import attention, comments_per_day
from cms.domain import DomainError
from cms.extensions import db
from cms.markup import stored_html
from cms.permissions import STAFF, Perm, can

# Which flag turns each Flask-Admin endpoint on.
CAPABILITIES = {
    "create_view": "can_create",
    "edit_view": "can_edit",
    "delete_view": "can_delete",
    "details_view": "can_view_details",
    "export": "can_export",
    "restore_view": "can_edit",
}


def deny_access():
    """Anonymous users go to the login page (with a same-site `next`); others get a 403 page."""
    if not current_user.is_authenticated:
        next_url = request.full_path.rstrip("?")
        return redirect(url_for("security.login", next=next_url))
    abort(403)


def staff_may(perms: int) -> bool:
    return bool(current_user.is_authenticated and current_user.active and can(perms))


class StaffModelView(ModelView):
    """Base for the console's model views: declare `required` and, for row rules, override `scope`."""

    required: int = Perm.ADMIN
    form_base_class = FlaskForm
    page_size = 50
    can_set_page_size = True
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    export_max_rows = 10_000
    list_template = "admin/cms_list.html"
    named_filter_urls = True  # readable, stable filter links: ?flt1_status_equals=pending

    def __init__(self, model, **kwargs):
        super().__init__(model, db, **kwargs)

    def is_accessible(self) -> bool:
        return staff_may(self.required)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _handle_view(self, name, **kwargs):
        """After the permission check, a capability the view does not offer is a 404, not a quiet redirect."""
        response = super()._handle_view(name, **kwargs)
        if response is None:
            flag = CAPABILITIES.get(name)
            if flag and not getattr(self, flag):
                abort(404)
        return response

    def handle_action(self, return_view=None):
        """An action the user may not run is refused with 403 instead of being ignored."""
        name = request.form.get("action", "")
        if name not in self._actions_data:
            abort(400, "Unknown action.")
        if not self.is_action_allowed(name):
            abort(403)
        return super().handle_action(return_view)

    def enforce(self, rule, *args) -> None:
        """Run a service's rule from a Flask-Admin hook: a refusal becomes the form error (or, on delete,
        the flash) Flask-Admin shows, and nothing is saved."""
        try:
            rule(*args)
        except DomainError as exc:
            raise ValidationError(str(exc)) from None

    def scope(self, query):
        """The row-level rule: the rows the current user may see and touch. Default: all rows."""
        return query

    def get_query(self):
        return self.scope(super().get_query())

    def get_count_query(self):
        return self.scope(super().get_count_query())

    def get_one(self, id):
        """One row within `scope`, or 404: drives details, edit and delete alike."""
        try:
            row = get_query_for_ids(self.get_query(), self.model, [id]).one_or_none()
        except (ValueError, TypeError):
            row = None
        if row is None:
            abort(404)
        return row

    def validate_form(self, form) -> bool:
        """Flask-Admin's relation fields drop unknown ids silently; treat them as the bad input they are."""
        valid = super().validate_form(form)
        for field in form:
            if hasattr(field, "_invalid_formdata") and request.method == "POST":
                field.data  # noqa: B018 (resolving the submitted ids flags unknown ones)
                if field._invalid_formdata:
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
        """The list URL with filters set, by their argument names: filter_url(status_equals="review")."""
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


class DashboardView(AdminIndexView):
    """The console's front page, open to all staff: what needs attention, each figure linked to its list."""

    def is_accessible(self) -> bool:
        return staff_may(STAFF)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _view(self, endpoint: str):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    @expose("/")
    def index(self):
        figures = attention()
        comments, posts, users = self._view("comment"), self._view("post"), self._view("user")
        stamp = "%Y-%m-%d %H:%M:%S"
        links = {
            "pending_comments": comments.filter_url(status_equals="pending") if comments.is_accessible() else None,
            "posts_in_review": posts.filter_url(status_equals="review") if posts.is_accessible() else None,
            "scheduled_posts": posts.filter_url(
                status_equals="published", published_at_greater_than=figures["now"].strftime(stamp)
            )
            if posts.is_accessible()
            else None,
            "new_users_week": users.filter_url(member_since_greater_than=figures["week_ago"].strftime(stamp))
            if users.is_accessible()
            else None,
        }
        days = comments_per_day()
        chart = {
            "labels": [d.isoformat() for d, _ in days],
            "counts": [n for _, n in days],
            "links": [
                comments.filter_url(
                    created_on_or_after=d.isoformat(), created_before=(d + timedelta(days=1)).isoformat()
                )
                if comments.is_accessible()
                else None
                for d, _ in days
            ],
        }
        return self.render("admin/index.html", figures=figures, links=links, chart=chart)


def body_html_formatter(view, context, model, name):
    return stored_html(model.body_html)
