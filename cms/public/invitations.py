"""The invitation page: the invitee chooses their password (the link in their mail is the authority)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo

from cms.domain import DomainError
from cms.forms import AppForm
from cms.invitations import InvitationError, accept_invitation, invited_account
from cms.public.blueprint import site


class InvitationForm(AppForm):
    password = PasswordField(_l("Password"), validators=[DataRequired()])  # the password rule: the service
    password_confirm = PasswordField(
        _l("Retype password"), validators=[DataRequired(), EqualTo("password", message=_l("Passwords do not match"))]
    )
    submit = SubmitField(_l("Set my password"))


@site.route("/invitation/<token>", methods=("GET", "POST"), endpoint="accept_invitation")
def accept_invitation_view(token: str):
    try:
        user = invited_account(token)
    except InvitationError as exc:
        return render_template("security/invitation.html", form=None, error=str(exc)), 410
    form = InvitationForm()
    if request.method == "POST" and form.validate():
        try:
            accept_invitation(token, form.password.data or "")
        except DomainError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            flash(_("Your password is set and your email is confirmed. You can sign in now."), "success")
            return redirect(url_for("security.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("security/invitation.html", form=form, user=user, error=None), status
