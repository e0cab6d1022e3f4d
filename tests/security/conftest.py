"""Fixtures for the attack battery: a real row behind every URL parameter, and the real browser."""

import io
from dataclasses import dataclass

import pytest
from flask_security.confirmable import generate_confirmation_token
from flask_security.recoverable import generate_reset_password_token
from werkzeug.datastructures import FileStorage

from cms.accounts import create_user
from cms.extensions import db
from cms.invitations import invitation_token
from cms.media import save_upload
from cms.models import AuditLog, BlockedWord, ExportJob, ExportStatus, MailStatus, Media, OutgoingMail, Post, Role, User
from cms.posts import add_revision
from tests.factories import make_comment, make_follow, make_post
from tests.images import png
from tests.support.catalogs import translations_of_this_test
from tests.support.database import backend_of, make_app
from tests.support.web import PASSWORD, Browserish


@dataclass
class Rows:
    """One row of every kind a URL of the app can name, for every route to be filled with."""

    draft: Post  # the author's own, with two revisions
    published: Post  # the editor's, live, with a comment
    comment_id: int
    follow: str  # Flask-Admin's id of a follow: "follower,followed"
    spare: User  # an account nobody signs in as
    role: Role
    media: Media
    audit_id: int
    blocked_word_id: int
    job: ExportJob  # the moderator's comment export, queued
    admin_job: ExportJob  # the administrator's
    revisions: tuple[int, int]
    reset_token: str
    confirm_token: str
    invitation_token: str  # the spare account's
    mail_id: int  # a mail that failed


@pytest.fixture
def rows(app, users) -> Rows:
    draft = make_post(users["author"], "draft", title="The author's draft")
    first, second = add_revision(draft, users["author"]), add_revision(draft, users["author"], body="Changed")
    published = make_post(users["editor"], "published", title="The editor's post")
    comment = make_comment(users["reader"], published)
    follow = make_follow(users["reader"], users["author"])
    spare = create_user("spare@example.com", PASSWORD, ["Reader"], username="spare", confirmed=False)
    role = Role(name="Temporary", permissions=1)
    word = BlockedWord(word="spamword")
    job = ExportJob(id="a" * 32, user_id=users["moderator"].id, format="csv", selection="{}", locale="en",
                    status=ExportStatus.QUEUED, total=1)  # fmt: skip
    admin_job = ExportJob(id="b" * 32, user_id=users["administrator"].id, format="csv", selection="{}", locale="en",
                          status=ExportStatus.QUEUED, total=1)  # fmt: skip
    mail = OutgoingMail(kind="reset", recipient="reader@example.com", sender="no-reply@cms.localhost", subject="Reset",
                        body="", status=MailStatus.FAILED, attempts=5, last_error="550 no such mailbox")  # fmt: skip
    db.session.add_all([role, word, job, admin_job, mail,
                        AuditLog(action="update", object_type="Post", object_id=str(draft.id))])  # fmt: skip
    db.session.commit()
    media = save_upload(FileStorage(io.BytesIO(png()), filename="picture.png"), users["author"])
    return Rows(
        draft=draft,
        published=published,
        comment_id=comment.id,
        follow=f"{follow.follower_id},{follow.followed_id}",
        spare=spare,
        role=role,
        media=media,
        audit_id=db.session.scalar(db.select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)),
        blocked_word_id=word.id,
        job=job,
        admin_job=admin_job,
        revisions=(first.id, second.id),
        reset_token=generate_reset_password_token(users["reader"]),
        confirm_token=generate_confirmation_token(spare),
        invitation_token=invitation_token(spare),
        mail_id=mail.id,
    )


@pytest.fixture
def translated(app, users, catalog_dir, tmp_path):
    """An app instance on the test database serving the catalogs built from a private copy of the committed
    ones, for translators to change in one test; `translated.client(role)` signs a client in to it."""
    instance = make_app(
        backend_of(app), tmp_path / "instance", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        CATALOG_SOURCE_DIR=str(catalog_dir),
    )  # fmt: skip

    def client(role: str | None) -> Browserish:
        browser = Browserish(instance.test_client())
        if role:
            browser.login(users[role].email)
        return browser

    instance.client = client
    with translations_of_this_test(app):
        yield instance
