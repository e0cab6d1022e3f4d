"""Accounts in the staff console (ADMIN): never shows the password hash, never locks the admin out. A new account
gets an invitation (its owner chooses the password and is confirmed); administrators type only their own."""

import sqlalchemy as sa
from flask import current_app, flash
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEmpty, FilterNotInList
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from sqlalchemy.orm import joinedload, load_only
from wtforms import PasswordField, SelectField, SelectMultipleField
from wtforms.validators import DataRequired, Email, Length, Optional

from admin_views.base import ListCount, StaffModelView, once_per_request
from cms.accounts import check_delete_account, prepare_account, unlock_account
from cms.counting import count_up_to, hits_in_first
from cms.domain import is_blank
from cms.exports import remove_orphaned_files
from cms.extensions import db
from cms.forms import OneLine
from cms.invitations import invite_again
from cms.locale import language_name, supported_locales
from cms.models import ABOUT_ME_LENGTH, Role, User, roles_users
from cms.permissions import Perm
from cms.search import ACCOUNTS, frequent_in_probe, user_clause
from cms.two_factor import TwoFactorError, reset_second_factor


class LanguagesField(SelectMultipleField):
    """User.languages as a choice of site languages, stored comma-separated; none chosen stores None."""

    def process_data(self, value):
        self.data = [code for code in (value or "").split(",") if code]

    def populate_obj(self, obj, name):
        setattr(obj, name, ",".join(self.data or []) or None)


def kept_username(value: str | None) -> str | None:
    """A WTForms filter: the username as it will be kept, so the form's length check measures that; one that shows
    nothing (a zero-width character alone) is none, which the form says is required."""
    kept = User.kept_form("username", value)
    return "" if kept is not None and is_blank(kept) else kept


def two_factor_formatter(view, context, model, name):
    return _l("Authenticator app") if model.tf_primary_method else "–"


class RoleFilter(BaseSQLAFilter):
    """One of Flask-Admin's filters on the accounts' role names ("equals", "contains", …: the same place, name and
    URL argument), asked of each account's memberships rather than through a join of accounts, memberships and
    roles, which MariaDB read from the roles (157,552 rows, 80-170 ms, to list the readers, whom every account is).

    The roles the filter selects are those its condition holds for in the role table; an account is listed when
    it has one of them ("is empty": when it has none), once, where the join listed an account once per matching
    role. When most of the newest accounts have one of them (SEARCH_PROBE_ROWS, SEARCH_FREQUENT_SHARE, as for a
    frequent search term), each account along the list's order is asked, so a page reads about its own rows; else
    the memberships of those roles are read through their index."""

    def __init__(self, original: BaseSQLAFilter):
        super().__init__(original.column, original.name, original.options, original.data_type)
        self.original = original
        self.key_name = f"memberships: {original.key_name}"  # no join path (Flask-Admin's _filter_joins)

    def operation(self):
        return self.original.operation()

    def validate(self, value):
        return self.original.validate(value)

    def clean(self, value):
        return self.original.clean(value)

    def chosen_roles(self, value) -> list[int]:
        """The ids of the roles the condition holds for."""
        # A list with a common search term builds its query twice (StaffModelView.get_list): the roles are read once.
        return once_per_request(
            "filtered_roles",
            (self.key_name, str(self.operation()), repr(value)),
            lambda: [role_id for (role_id,) in self.original.apply(db.session.query(Role.id), value)],
        )

    def apply(self, query, value, alias=None):
        roles = self.chosen_roles(value)
        member = roles_users.c.user_id == User.id
        if self.holds_without_role(value):
            alone = sa.select(roles_users.c.user_id).where(member).limit(1).scalar_subquery().is_(None)
            return query.filter(sa.or_(alone, self.has_one_of(roles)) if roles else alone)
        return query.filter(self.has_one_of(roles) if roles else sa.false())

    def holds_without_role(self, value) -> bool:
        """Whether the condition holds for the outer join's NULL, as for an account without roles: "is empty", and
        "not in list" (Flask-Admin's adds `OR name IS NULL`)."""
        return isinstance(self.original, FilterNotInList) or (isinstance(self.original, FilterEmpty) and value == "1")

    @staticmethod
    def has_one_of(roles: list[int]):
        chosen = roles_users.c.role_id.in_(roles)
        asked = sa.select(roles_users.c.user_id).where(roles_users.c.user_id == User.id, chosen).limit(1)
        held = asked.scalar_subquery().is_not(None)  # a scalar subquery, which MariaDB does not turn into a join
        probe = current_app.config["SEARCH_PROBE_ROWS"]

        def frequent() -> bool:
            return frequent_in_probe(*hits_in_first(sa.select(User.id).order_by(User.id.desc()), held, probe))

        if probe > 0 and once_per_request("frequent_roles", tuple(roles), frequent):
            return held
        return User.id.in_(sa.select(roles_users.c.user_id).where(chosen))


def count_holders(roles: list[int], cap: int | None) -> tuple[int, bool]:
    """The accounts that hold one of `roles`: (count, exact), stopping at `cap` (None: exact).

    An account holds a role once, so one role's holders are its memberships, counted up to the cap along the role's
    index. Several roles' memberships are counted so too, and when there are no more than the cap, their accounts
    are counted once each (COUNT DISTINCT, in memory). Past it, the memberships are walked in the accounts' order
    (the primary key, where an account's memberships are together) to the account after the cap: a SELECT DISTINCT
    would keep them in a temporary table and read them from it a second time (20,004 rows for a cap of 10,000)."""
    memberships = sa.select(roles_users.c.user_id).where(roles_users.c.role_id.in_(roles))
    if len(roles) < 2:
        return count_up_to(memberships, cap)
    holders = sa.select(sa.func.count(roles_users.c.user_id.distinct())).where(roles_users.c.role_id.in_(roles))
    if cap is None:
        return db.session.scalar(holders) or 0, True
    beyond = memberships.with_only_columns(sa.literal(1)).limit(1).offset(cap).scalar_subquery()
    found = db.session.scalar(sa.select(sa.case((beyond.is_(None), holders.scalar_subquery()), else_=-1)))
    if found != -1:
        return found or 0, True
    in_order = memberships.group_by(roles_users.c.user_id)
    for dialect in ("mysql", "mariadb"):  # the optimizer takes the role's index, then sorts every membership
        in_order = in_order.with_hint(roles_users, "FORCE INDEX (PRIMARY)", dialect)
    if db.session.scalar(sa.select(sa.literal(1)).select_from(in_order.limit(1).offset(cap).subquery())):
        return cap, False
    return db.session.scalar(holders) or 0, True  # more memberships than accounts past the cap: each holds several


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
        "email": _l("Email"),
        "username": _l("Username"),
        "name": _l("Name"),
        "about_me": _l("About me"),
        "roles": _l("Roles"),
        "active": _l("Active"),
        "confirmed_at": _l("Confirmed at"),
        "member_since": _l("Member since"),
        "last_seen": _l("Last seen"),
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
        # Measured as kept (trimmed, folded as User.kept_form folds it): "ab " was kept as a 2-character username.
        "username": {"validators": [DataRequired(), Length(min=3, max=64)], "filters": [kept_username]},
        "name": {"validators": [OneLine()]},
        "about_me": {"validators": [Optional(), Length(max=ABOUT_ME_LENGTH)]},  # the profile's own limit
        "languages": {
            "validators": [Optional()],
            "description": _l("For translators. None chosen: every site language but the default."),
        },
    }

    def known_count(self, filters, search, cap) -> ListCount | None:
        """The accounts holding one of the roles a role filter alone chooses: counted in those roles' memberships,
        each account once, which reads one index entry per account up to the cap, where asking each account for
        a membership read two (20,202 rows for a cap of 10,000)."""
        if search or len(filters) != 1:
            return super().known_count(filters, search, cap)
        index, _, value = filters[0]
        chosen = self._filters[index]
        value = chosen.clean(value)  # as Flask-Admin's get_list gives it to apply
        if not isinstance(chosen, RoleFilter) or chosen.holds_without_role(value):
            return super().known_count(filters, search, cap)
        return ListCount(*count_holders(chosen.chosen_roles(value), cap))

    def scaffold_filters(self, name):
        filters = super().scaffold_filters(name)
        if name != "roles.name" or not filters:
            return filters
        # Every one asked of the memberships: through Flask-Admin's join, "not in list" listed and counted an account
        # once for each of its roles outside the list.
        return [RoleFilter(flt) for flt in filters]

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

    def after_model_delete(self, model):
        # The account's export jobs went with it (ON DELETE CASCADE); their files, every exported comment with its
        # author's address, go now too.
        remove_orphaned_files()

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
