"""The outbox in the console (/admin/outbox/, ADMIN): failed mail is listed with why, and sent again from there;
no mail's text (which may hold someone's invitation or reset link) is shown."""

import sqlalchemy as sa

from cms import leases
from cms.extensions import db
from cms.models import MailStatus, OutgoingMail
from tests.support.database import fresh
from tests.support.mail import sent_mail


def failed_mail(error: str = "reader@example.com: 550 5.1.1 No such mailbox") -> OutgoingMail:
    mail = OutgoingMail(kind="security/email/reset_instructions", recipient="reader@example.com",
                        sender="no-reply@cms.localhost", subject="Password reset instructions",
                        body="Reset here: http://localhost/reset/SECRET-TOKEN\n", status=MailStatus.FAILED,
                        attempts=5, last_error=error)  # fmt: skip
    db.session.add(mail)
    db.session.commit()
    return mail


def test_failed_mail_is_listed_with_its_error_and_never_its_text(login_as, users):
    mail = failed_mail()
    admin = login_as("administrator")
    listing = admin.get("/admin/outbox/?flt0_status_equals=failed").get_data(as_text=True)
    assert "reader@example.com: 550 5.1.1 No such mailbox" in listing and "Password reset instructions" in listing
    details = admin.get(f"/admin/outbox/details/?id={mail.id}").get_data(as_text=True)
    for page in (listing, details):
        assert "SECRET-TOKEN" not in page


def test_a_claim_given_back_reads_as_the_reason(login_as, users):
    failed_mail(leases.STOPPED)
    listing = login_as("administrator").get("/admin/outbox/").get_data(as_text=True)
    assert "the worker running it stopped (a restart, a deploy or running out of memory)" in listing


def test_send_again_queues_the_failed_mail_and_a_worker_sends_it(app, login_as, users):
    mail = failed_mail()
    admin = login_as("administrator")
    response = admin.post("/admin/outbox/action/", data={"action": "send_again", "rowid": [mail.id],
                                                         "csrf_token": admin.csrf()}, follow_redirects=True)  # fmt: skip
    assert "1 mail will be sent again." in response.get_data(as_text=True)
    row = fresh(sa.select(OutgoingMail)).scalar_one()
    assert (row.status, row.attempts) == ("queued", 0)
    assert [mail["to"] for mail in sent_mail(app)] == ["reader@example.com"]
    assert fresh(sa.select(OutgoingMail.status)).scalar_one() == "sent"


def test_send_again_with_every_matching_row_selected_queues_every_failed_mail(app, login_as, users):
    """ "Select all" on the failed mails: the list says every matching row is chosen, and each is sent again (only
    the checked one was). A mail already sent is not, though the filter is only the status."""
    failed = [failed_mail() for _ in range(3)]
    admin = login_as("administrator")
    sent = OutgoingMail(kind="invitation", recipient="x@example.com", sender="no-reply@cms.localhost", subject="s",
                        body="b", status=MailStatus.SENT, attempts=1)  # fmt: skip
    db.session.add(sent)
    db.session.commit()
    response = admin.post("/admin/outbox/action/?flt0_status_equals=failed", data={
        "action": "send_again", "rowid": [failed[0].id], "select_all": "1", "csrf_token": admin.csrf()
    }, follow_redirects=True)  # fmt: skip
    assert "3 mails will be sent again." in response.get_data(as_text=True)
    statuses = dict(fresh(sa.select(OutgoingMail.id, OutgoingMail.status)).all())
    assert all(statuses[mail.id] != "failed" for mail in failed) and statuses[sent.id] == "sent"


def test_the_outbox_is_for_administrators_only(login_as, users):
    failed_mail()
    for role, status in (("editor", 403), ("moderator", 403), ("administrator", 200)):
        assert login_as(role).get("/admin/outbox/").status_code == status


def test_the_dashboard_tells_administrators_how_much_mail_failed(login_as, users):
    assert 'id="failed-mail"' not in login_as("administrator").get("/admin/").get_data(as_text=True)
    failed_mail()
    page = login_as("administrator").get("/admin/").get_data(as_text=True)
    assert "1 mail could not be sent." in page and "/admin/outbox/?flt0_status_equals=failed" in page
    assert "could not be sent" not in login_as("editor").get("/admin/").get_data(as_text=True)
