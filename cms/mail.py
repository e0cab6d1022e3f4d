"""Outgoing mail: every message is written to the outbox (`cms.outbox`) in the transaction of its change and sent
by a worker — over SMTP when CMS_MAIL_SERVER is set, otherwise to the log (development, tests)."""

from flask_security import MailUtil


class CmsMailUtil(MailUtil):
    """Flask-Security's mail hook: normalises addresses to lower case and puts its mail in the outbox."""

    def normalize(self, email: str) -> str:
        # Stored addresses are lower case (see User._lowercase); look-ups must match on SQLite too.
        return super().normalize(email).lower()

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs) -> None:
        if isinstance(sender, tuple):
            sender = f"{sender[0]} <{sender[1]}>"
        send_message(str(subject), str(recipient), body or "", html, sender=str(sender), kind=str(template))


def send_message(subject: str, recipient: str, body: str, html: str | None = None, sender: str | None = None,
                 kind: str = "notice") -> None:  # fmt: skip
    """Put one message in the outbox, to go out once the caller's transaction commits."""
    from cms.outbox import queue_mail  # cms.extensions imports this module; the outbox needs its `db`

    queue_mail(kind, recipient, subject, body, html, sender=sender)
