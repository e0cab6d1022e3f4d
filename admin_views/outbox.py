"""The outbox (ADMIN): every outgoing mail with its state, attempts and last error; failed mail is sent again from
here. Mail bodies are not shown: they hold invitation and reset links to other people's accounts."""

from flask import abort, flash, request
from flask_admin.actions import action
from flask_babel import gettext, lazy_pgettext, ngettext
from flask_babel import lazy_gettext as _l

from admin_views.base import StaffModelView, labels_once
from cms import leases, outbox
from cms.models import MailStatus, OutgoingMail
from cms.permissions import Perm
from cms.routing import stored_int

MAIL_STATUS_LABELS = {  # in the context of a mail: Spanish says "enviado", "fallido" of "el correo"
    MailStatus.QUEUED: lazy_pgettext("mail", "Queued"),
    MailStatus.SENDING: lazy_pgettext("mail", "Sending"),
    MailStatus.SENT: lazy_pgettext("mail", "Sent"),
    MailStatus.FAILED: lazy_pgettext("mail", "Failed"),
}


def _error(view, context, model, name):
    return leases.reason_text(model.last_error) or ""


def _status(view, context, model, name):
    return labels_once("mail_status", MAIL_STATUS_LABELS).get(model.status, model.status)


class OutboxView(StaffModelView):
    required = Perm.ADMIN
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    column_list = ("created_at", "kind", "recipient", "subject", "status", "attempts", "next_attempt_at",
                   "last_error", "sent_at")  # fmt: skip
    column_details_list = column_list
    column_labels = {
        "created_at": _l("Created at"),
        "subject": _l("Subject"),
        "status": _l("Status"),
        "kind": _l("Kind"),
        "recipient": _l("To"),
        "attempts": _l("Attempts"),
        "next_attempt_at": _l("Next attempt (UTC)"),
        "last_error": _l("Last error"),
        "sent_at": _l("Sent (UTC)"),
    }
    column_formatters = {"last_error": _error, "status": _status}
    column_formatters_detail = column_formatters
    column_searchable_list = ("recipient",)
    column_filters = ("status", "kind", "recipient", "created_at", "sent_at")
    column_sortable_list = ("created_at", "status", "attempts", "next_attempt_at", "sent_at")
    column_default_sort = ("created_at", True)

    @action("send_again", _l("Send again"), _l("Send the selected failed mails again?"))
    def action_send_again(self, ids):
        if request.form.get("select_all") == "1":  # every mail the list's filters match, as the list said
            chosen = [mail_id for (mail_id,) in self.selected_query(ids).with_entities(OutgoingMail.id)]
        else:
            try:
                chosen = [stored_int(mail_id) for mail_id in ids]
            except ValueError:
                abort(400, gettext("The selected rows are not valid mail ids."))
        queued = outbox.send_again(chosen)
        flash(ngettext("%(num)d mail will be sent again.", "%(num)d mails will be sent again.", queued), "success")
