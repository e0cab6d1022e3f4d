"""Follows in the staff console (ADMIN, read-only)."""

from flask_babel import lazy_gettext as _l

from admin_views.base import StaffModelView
from cms.permissions import Perm


class FollowView(StaffModelView):
    required = Perm.ADMIN
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    column_list = ("follower", "followed", "created_at")
    column_labels = {"follower": _l("Follower"), "followed": _l("Followed"), "created_at": _l("Created at")}
    column_export_list = ("follower", "followed", "created_at")
    column_filters = ("created_at",)
    column_sortable_list = ("created_at",)
    column_default_sort = ("created_at", True)
