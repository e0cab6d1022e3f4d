"""The audit log (ADMIN, read-only)."""

import json

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from admin_views.base import StaffModelView
from cms.permissions import Perm


def _changes(view, context, model, name):
    """An entry's changes: a field's value before and after, or, for an entry that records something else (the
    ids a bulk action touched), the value itself across both columns. Every pair was assumed: the details of a
    "deactivate authors" entry (its ids) were a 500."""
    if not model.changes:
        return ""
    rows = Markup("")
    for field, value in json.loads(model.changes).items():
        if isinstance(value, list) and len(value) == 2 and field != "ids":
            rows += Markup("<tr><th>{}</th><td>{}</td><td>{}</td></tr>").format(field, *value)
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            rows += Markup('<tr><th>{}</th><td colspan="2">{}</td></tr>').format(field, shown)
    return Markup('<table class="table table-sm mb-0">{}</table>').format(rows)


class AuditLogView(StaffModelView):
    required = Perm.ADMIN
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("created_at", "user", "ip", "action", "object_type", "object_id", "summary")
    row_name_column = "summary"
    column_details_list = column_list + ("changes",)
    column_export_list = ("id", "created_at", "user", "ip", "action", "object_type", "object_id", "summary", "changes")
    column_labels = {
        "created_at": _l("Created at"),
        "user": _l("User"),
        "ip": _l("IP address"),
        "action": _l("Action"),
        "object_type": _l("Object"),
        "object_id": _l("Id"),
        "summary": _l("Summary"),
        "changes": _l("Changes"),
    }
    column_formatters_detail = {"changes": _changes}
    column_searchable_list = ("summary", "object_id", "ip")
    column_filters = ("action", "object_type", "object_id", "user.username", "created_at")
    column_sortable_list = ("created_at", "action", "object_type")
    column_default_sort = ("created_at", True)
