"""Outgoing mail: SMTP when CMS_MAIL_SERVER is set, otherwise written to the log (development, tests)."""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from flask_security import MailUtil

log = logging.getLogger("cms.mail")


class CmsMailUtil(MailUtil):
    """Flask-Security's mail hook: normalises addresses to lower case and delivers or logs mail."""

    def normalize(self, email: str) -> str:
        # Stored addresses are lower case (see User._lowercase); look-ups must match on SQLite too.
        return super().normalize(email).lower()

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs) -> None:
        if isinstance(sender, tuple):
            sender = f"{sender[0]} <{sender[1]}>"
        send_message(str(subject), str(recipient), body or "", html, sender=str(sender))


def send_message(subject: str, recipient: str, body: str, html: str | None = None, sender: str | None = None) -> None:
    """Send one message, or log it when no mail server is configured."""
    config = current_app.config
    sender = sender or config["MAIL_SENDER"]
    outbox = current_app.extensions.setdefault("cms.outbox", [])
    if config.get("TESTING"):
        outbox.append({"to": recipient, "subject": subject, "body": body, "html": html})
    if not config.get("MAIL_SERVER"):
        log.info("Mail to %s: %s\n%s", recipient, subject, body)
        return
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, sender, recipient
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"])) as smtp:
        smtp.send_message(message)
