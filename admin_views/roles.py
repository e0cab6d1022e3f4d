"""Roles in the staff console (ADMIN): permissions edited as check boxes over the bit mask."""

from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup, escape
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from admin_views.base import StaffModelView, labels_once
from cms.accounts import check_role, check_role_change_keeps_admin, check_role_delete, release_role
from cms.permissions import Perm, mask_of, names_of, perm_name

PERMISSION_LABELS = {
    Perm.FOLLOW: _l("Follow"),
    Perm.COMMENT: _l("Comment"),
    Perm.WRITE: _l("Write"),
    Perm.MODERATE: _l("Moderate"),
    Perm.PUBLISH: _l("Publish"),
    Perm.TRANSLATE: _l("Translate"),
    Perm.ADMIN: _l("Admin"),
}


class PermissionMaskField(SelectMultipleField):
    """Check boxes named after the permission bits; stores the integer mask on the model."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.pop("choices", None)
        kwargs.pop("coerce", None)
        choices = [(perm_name(p), PERMISSION_LABELS[p]) for p in Perm]
        super().__init__(label, validators, choices=choices, coerce=str, **kwargs)

    def process_data(self, value):
        if isinstance(value, int):
            value = sorted(names_of(value))
        super().process_data(value)

    def populate_obj(self, obj, name):
        setattr(obj, name, mask_of(self.data or []))


def _format_permissions(view, context, model, name):
    labels = labels_once("permissions", PERMISSION_LABELS)
    return Markup(", ").join(escape(labels[p].lower()) for p in Perm if (model.permissions or 0) & p)


class RoleView(StaffModelView):
    required = Perm.ADMIN
    column_list = ("name", "description", "permissions")
    column_labels = {"name": _l("Name"), "description": _l("Description"), "permissions": _l("Permissions")}
    column_searchable_list = ("name", "description")
    column_filters = ("name",)
    column_sortable_list = ("name",)
    column_default_sort = "name"
    column_formatters = {"permissions": _format_permissions}
    column_formatters_detail = {"permissions": _format_permissions}
    form_columns = ("name", "description", "permissions")
    form_overrides = {"permissions": PermissionMaskField}

    def on_model_change(self, form, model, is_created):
        self.enforce(check_role, model, is_created)
        self.enforce(check_role_change_keeps_admin, current_user)

    def on_model_delete(self, model):
        self.enforce(check_role_delete, current_user, model)
        release_role(model)
