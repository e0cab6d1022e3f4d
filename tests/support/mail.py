"""The mail the app sent, as the tests read it: the outbox is sent first (what a worker does), then the messages
delivered are listed ({"to", "subject", "body", "html"}, oldest first)."""

import re
from collections.abc import Sequence

import sqlalchemy as sa

from cms import outbox
from cms.extensions import db
from cms.models import OutgoingMail


def sent_mail(app) -> list[dict]:
    """Every message `app` delivered so far, after sending what waits in its outbox now."""
    with app.app_context():
        db.session.rollback()  # see what requests committed
        outbox.send_due_mail()
    return app.extensions.setdefault("cms.outbox", [])


class SentMail(Sequence):
    """The `outbox` fixture: reads like the list of delivered messages, sending the outbox at every look."""

    def __init__(self, app):
        self.app = app

    def _mail(self) -> list[dict]:
        return sent_mail(self.app)

    def __getitem__(self, index):
        return self._mail()[index]

    def __len__(self) -> int:
        return len(self._mail())

    def __iter__(self):
        return iter(list(self._mail()))

    def clear(self) -> None:
        self._mail().clear()


def outbox_rows(**where) -> list[OutgoingMail]:
    """The outbox's rows (those matching `where`), oldest first, as committed."""
    db.session.rollback()
    query = sa.select(OutgoingMail).filter_by(**where).order_by(OutgoingMail.id)
    return list(db.session.scalars(query))


def link_in(mail: dict) -> str:
    """The path of the first link to this site in a mail's text."""
    match = re.search(r"http://localhost(/\S+)", mail["body"])
    assert match, mail["body"]
    return match.group(1)
