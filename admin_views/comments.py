"""The comment queue in the staff console (MODERATE)."""

from flask import flash
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from admin_views.base import StaffModelView, body_html_formatter
from cms.comments import set_comment_status
from cms.models import COMMENT_STATUSES
from cms.permissions import Perm

STATUS_LABELS = {"pending": _l("Pending"), "approved": _l("Approved"), "hidden": _l("Hidden")}


class CommentView(StaffModelView):
    required = Perm.MODERATE
    can_create = False
    column_list = ("created_at", "status", "post", "author", "body_html")
    column_labels = {"body_html": _l("Comment")}
    column_details_list = ("id", "created_at", "status", "post", "author", "body_html")
    column_export_list = ("id", "created_at", "status", "post", "author", "body")
    column_searchable_list = ("body", "author.username")
    column_filters = ("status", "post.title", "author.username", "created_at")
    column_sortable_list = ("created_at", "status", ("post", "post.title"), ("author", "author.username"))
    column_default_sort = ("created_at", True)
    column_formatters = {
        "status": lambda v, c, m, p: STATUS_LABELS.get(m.status, m.status),
        "body_html": body_html_formatter,
    }
    column_formatters_detail = {"body_html": body_html_formatter}
    form_columns = ("status",)
    form_choices = {"status": [(s, STATUS_LABELS[s]) for s in COMMENT_STATUSES]}

    def _bulk_status(self, ids, status: str) -> None:
        changed = set_comment_status([int(i) for i in ids], status)
        flash(ngettext("%(num)d comment changed.", "%(num)d comments changed.", changed) % {"num": changed}, "success")

    @action("approve", _l("Approve"), _l("Approve the selected comments?"))
    def action_approve(self, ids):
        self._bulk_status(ids, "approved")

    @action("hide", _l("Hide"), _l("Hide the selected comments?"))
    def action_hide(self, ids):
        self._bulk_status(ids, "hidden")
