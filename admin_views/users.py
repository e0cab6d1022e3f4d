"""Accounts in the staff console (ADMIN): never shows the password hash, never locks the admin out. A new account
gets an invitation (its owner chooses the password and is confirmed); administrators type only their own."""

from flask import flash
from flask_admin.actions import action
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from sqlalchemy.orm import joinedload, load_only
from wtforms import PasswordField, SelectField, SelectMultipleField
from wtforms.validators import DataRequired, Email, Length, Optional

from admin_views.base import StaffModelView
from cms.accounts import check_delete_account, prepare_account, unlock_account
from cms.invitations import invite_again
from cms.locale import language_name, supported_locales
from cms.models import Role, User
from cms.permissions import Perm
from cms.search import ACCOUNTS, user_clause
from cms.two_factor import TwoFactorError, reset_second_factor


class LanguagesField(SelectMultipleField):
    """User.languages as a choice of site languages, stored comma-separated; none chosen stores None."""

    def process_data(self, value):
        self.data = [code for code in (value or "").split(",") if code]

    def populate_obj(self, obj, name):
        setattr(obj, name, ",".join(self.data or []) or None)


def two_factor_formatter(view, context, model, name):
    return _l("Authenticator app") if model.tf_primary_method else "–"


class UserView(StaffModelView):
    required = Perm.ADMIN
    column_list = (
        "email", "username", "name", "roles", "active", "tf_primary_method", "confirmed_at", "member_since",
        "last_seen", "locked_until",
    )  # fmt: skip
    column_details_list = (
        "email", "username", "name", "about_me", "roles", "active", "tf_primary_method", "confirmed_at",
        "member_since", "last_seen", "locale", "languages", "locked_until", "failed_logins",
    )  # fmt: skip
    column_labels = {
        "tf_primary_method": _l("Two-factor"),
        "locked_until": _l("Sign-in locked until (UTC)"),
        "failed_logins": _l("Failed sign-ins"),
        "languages": _l("Translates into"),
    }
    column_formatters = {"tf_primary_method": two_factor_formatter}
    column_export_list = ("id", "email", "username", "name", "roles", "active", "confirmed_at", "member_since")
    column_searchable_list = ("email", "username", "name")
    searched = ACCOUNTS
    column_filters = ("active", "roles.name", "confirmed_at", "member_since", "last_seen", "locale")
    few_values_columns = ("locale",)
    column_sortable_list = ("email", "username", "name", "active", "confirmed_at", "member_since", "last_seen")
    column_default_sort = ("member_since", True)
    form_columns = (
        "email",
        "username",
        "name",
        "about_me",
        "locale",
        "languages",
        "active",
        "roles",
        "new_password",
    )
    form_overrides = {"locale": SelectField, "languages": LanguagesField}
    form_extra_fields = {
        "new_password": PasswordField(
            _l("New password"),
            validators=[Optional()],  # the password rule runs in prepare_account
            description=_l("Your own password. Leave empty to keep it."),
        )
    }
    form_args = {
        "email": {"validators": [DataRequired(), Email(check_deliverability=False), Length(max=255)]},
        "username": {"validators": [DataRequired(), Length(min=3, max=64)]},
        "languages": {
            "validators": [Optional()],
            "description": _l("For translators. None chosen: every site language but the default."),
        },
    }

    def list_row_options(self):
        """What the list shows: no password hash, authenticator secret, recovery codes or "about me" text."""
        return [
            load_only(
                User.id, User.email, User.username, User.name, User.active, User.tf_primary_method,
                User.confirmed_at, User.member_since, User.last_seen, User.locked_until,
            ),
            joinedload(User.roles).load_only(Role.id, Role.name),
        ]  # fmt: skip

    def search_clause(self, search):
        return user_clause(search)  # each term in the email, username or name

    def adjust_form(self, form, obj=None):
        languages = [(code, language_name(code)) for code in supported_locales()]
        form.locale.choices = [("", _l("(browser language)")), *languages]
        form.languages.choices = languages
        if obj is None or obj.id != current_user.id:  # someone else's account: they choose their own password
            del form.new_password
        return form

    def on_model_change(self, form, model, is_created):
        new_password = form.new_password.data if "new_password" in form else None
        self.enforce(prepare_account, current_user, model, new_password, is_created)

    def after_model_change(self, form, model, is_created):
        if is_created:
            message = gettext("An invitation to choose a password is on its way to %(email)s.", email=model.email)
            flash(message, "success")

    @action(
        "invite",
        _l("Send the invitation again"),
        _l("Send a new invitation to the selected accounts that have not chosen a password yet?"),
    )
    def action_invite(self, ids):
        invited = invite_again(self.selected_query(ids).all())
        flash(ngettext("%(num)d invitation is on its way.", "%(num)d invitations are on their way.", invited),
              "success")  # fmt: skip

    def on_model_delete(self, model):
        self.enforce(check_delete_account, current_user, model)

    @action("unlock", _l("End sign-in lock"), _l("Let the selected accounts sign in again now?"))
    def action_unlock(self, ids):
        unlocked = sum(unlock_account(user) for user in self.selected_query(ids).all())
        flash(ngettext("%(num)d account unlocked.", "%(num)d accounts unlocked.", unlocked), "success")

    @action(
        "reset_two_factor",
        _l("Reset two-factor sign-in"),
        _l(
            "Remove the authenticator and recovery codes of the selected accounts? Those whose role requires "
            "two-factor sign-in set it up again when they next sign in."
        ),
    )
    def action_reset_two_factor(self, ids):
        try:
            reset = reset_second_factor(current_user, self.selected_query(ids).all())
        except TwoFactorError as exc:
            flash(str(exc), "error")
            return
        flash(
            ngettext(
                "Two-factor sign-in was reset for %(num)d account.",
                "Two-factor sign-in was reset for %(num)d accounts.",
                reset,
            ),
            "success",
        )
