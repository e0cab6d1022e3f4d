"""The database models: accounts and roles, posts, comments and follows."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_security import RoleMixin, UserMixin
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from cms.domain import folded, is_blank
from cms.extensions import Model, db
from cms.permissions import granted_names, second_factor_required

# Post and comment bodies can outgrow TEXT's 65,535 bytes on MariaDB (Chinese, emoji).
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# Microseconds matter where order within a second does (comment queue, optimistic locking).
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is UTC without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None)


roles_users = sa.Table(
    "roles_users",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)


class Role(Model, RoleMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(255))
    # A bit mask of cms.permissions.Perm; replaces Flask-Security's list column.
    permissions: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")  # type: ignore[assignment]

    users: Mapped[list[User]] = relationship(secondary=roles_users, back_populates="roles")

    def get_permissions(self) -> set[str]:
        """Permission names Flask-Security turns into `Need('fsperm', name)` on identity load."""
        return granted_names(self.permissions or 0)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Role {self.name} {self.permissions:#04x}>"


class User(Model, UserMixin):
    __table_args__ = (
        # The console's account list, newest members first, filtered by whether the account is active or by its
        # language (sorting by either walks the same index).
        sa.Index("ix_user_active_member_since", "active", "member_since"),
        sa.Index("ix_user_locale_member_since", "locale", "member_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(index=True)  # the console's filter and order
    fs_uniquifier: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # the console's order by name
    about_me: Mapped[str | None] = mapped_column(sa.Text)  # at most ABOUT_ME_LENGTH characters, in every form
    member_since: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[datetime | None] = mapped_column(index=True)  # the console's filter and order
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    # The languages a translator works in, comma-separated site locales ("zh,es"); None: every language but the
    # site's default (cms.translations.languages_of).
    languages: Mapped[str | None] = mapped_column(sa.String(255))
    # Sign-in lockout (cms.throttle): failed sign-ins counted from the first of them, and the end of a lock.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    failed_logins_since: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    # Flask-Security's two-factor fields: the method ("authenticator"), its secret (encrypted with
    # SECURITY_TOTP_SECRETS), a phone number (unused: no SMS), and the unused recovery codes' keyed hashes.
    tf_primary_method: Mapped[str | None] = mapped_column(sa.String(64))
    tf_totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    tf_phone_number: Mapped[str | None] = mapped_column(sa.String(128))
    mf_recovery_codes: Mapped[list[str] | None] = mapped_column(MutableList.as_mutable(sa.JSON(none_as_null=True)))

    roles: Mapped[list[Role]] = relationship(  # type: ignore[assignment]
        secondary=roles_users, back_populates="users", lazy="selectin"
    )
    posts: Mapped[list[Post]] = relationship(back_populates="author", passive_deletes=True)
    comments: Mapped[list[Comment]] = relationship(
        back_populates="author", passive_deletes=True, foreign_keys="Comment.author_id"
    )

    KEPT_LOWERCASE = ("email", "username")

    @validates(*KEPT_LOWERCASE)
    def _lowercase(self, key: str, value: str | None) -> str | None:
        return self.kept_form(key, value)

    @staticmethod
    def kept_form(key: str, value: str | None) -> str | None:
        """An email or username as it is kept, and so as it is looked up whatever its case. MariaDB's _ci collation
        treats Bob@x.io and bob@x.io as one; SQLite must agree (its lower() changes only ASCII letters: Ωmega and
        ωmega were two, and the second registration a 500). A username is kept as Flask-Security's sign-in
        normalises what is typed (NFKD: a full-width ｒｅａｄｅｒ is reader), so one made in the console or the CLI
        neither passes for another account nor fails to sign in."""
        if value and key == "username":
            value = unicodedata.normalize("NFKD", value)
        return value.strip().lower() if value else value

    @property
    def display_name(self) -> str:
        """The name, or the username where the name shows nothing (empty, spaces, zero-width characters)."""
        return self.username if self.name is None or is_blank(self.name) else self.name

    def check_tf_required(self, tf_setup_methods, tf_fresh):
        """Flask-Security's per-user hook at sign-in: a member of a role that requires a second factor and has
        none is sent to set one up; otherwise the library's rule (asked of whoever set one up)."""
        if not tf_setup_methods and second_factor_required(self.roles):
            return True, tf_setup_methods
        return super().check_tf_required(tf_setup_methods, tf_fresh)

    def check_tf_required_setup(self) -> bool:
        """Whether /tf-setup may offer to turn two-factor sign-in off: not for a role that requires it."""
        return second_factor_required(self.roles)

    def track_failed_authn(self, auth_type: str, tfa: bool = False) -> None:
        """Flask-Security's hook for a credential that did not verify. A wrong second-factor code (an authenticator's,
        or a recovery code: cms.throttle.LockingRecoveryForm) counts towards the account's lock as a wrong password
        does; wrong passwords are counted by cms.throttle.LockingLoginForm, which also sees unknown accounts."""
        if tfa:
            from cms.accounts import record_failed_sign_in  # cms.accounts imports this module

            record_failed_sign_in(self)

    def __str__(self) -> str:
        return self.username or self.email

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class PostStatus(StrEnum):
    """A post's place in the workflow, stored as its lowercase name."""

    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class CommentStatus(StrEnum):
    """A comment's place in the moderation queue, stored as its lowercase name."""

    PENDING = "pending"
    APPROVED = "approved"
    HIDDEN = "hidden"


POST_STATUSES = tuple(PostStatus)
COMMENT_STATUSES = tuple(CommentStatus)


class Post(Model):
    __table_args__ = (
        sa.Index("ix_post_status_published_at", "status", "published_at"),
        # The console's post list: newest changes first, within a status or one author's posts.
        sa.Index("ix_post_status_updated", "status", "updated_at"),
        sa.Index("ix_post_author_updated", "author_id", "updated_at"),
        sa.Index("ix_post_locale_updated", "locale", "updated_at"),  # the list's language filter
        # The list filtered by a date (created or published before, after, between), newest changes first: the
        # walk along updated_at finds the dates in the index instead of reading each post's row. The id is named
        # so that the index serves the list's order (updated_at, id) itself.
        sa.Index("ix_post_updated_dates", "updated_at", "id", "published_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(255), index=True)
    slug: Mapped[str] = mapped_column(sa.String(255), unique=True)
    body: Mapped[str] = mapped_column(LongText, default="")
    body_html: Mapped[str] = mapped_column(LongText, default="")
    # active_history: the status it had is loaded before a change, so the per-status counts can move it.
    status: Mapped[str] = mapped_column(sa.String(16), default=PostStatus.DRAFT, active_history=True)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    # The original language; translations hold the others.
    locale: Mapped[str] = mapped_column(sa.String(16), default="en", server_default="en")
    # When the title or body last changed: translations saved before this are out of date.
    content_changed_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)
    featured_image_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media.id", ondelete="SET NULL"), index=True)
    # Optimistic locking: an UPDATE that finds another version than it read fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    author: Mapped[User] = relationship(back_populates="posts")
    comments: Mapped[list[Comment]] = relationship(back_populates="post", passive_deletes=True)
    translations: Mapped[list[PostTranslation]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="PostTranslation.locale"
    )
    revisions: Mapped[list[PostRevision]] = relationship(
        back_populates="post", cascade="all, delete-orphan", passive_deletes=True, order_by="PostRevision.id.desc()"
    )
    featured_image: Mapped[Media | None] = relationship()

    @hybrid_property
    def is_live(self) -> bool:
        """Published and its time has come: what the public site, the API and feeds show."""
        return self.status == PostStatus.PUBLISHED and self.published_at is not None and self.published_at <= utcnow()

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls):
        return sa.and_(cls.status == PostStatus.PUBLISHED, cls.published_at <= utcnow())

    @hybrid_property
    def is_scheduled(self) -> bool:
        """Published with a time still to come: it goes live then, with nothing left to do."""
        return self.status == PostStatus.PUBLISHED and self.published_at is not None and self.published_at > utcnow()

    @is_scheduled.inplace.expression
    @classmethod
    def _is_scheduled_expression(cls):
        return sa.and_(cls.status == PostStatus.PUBLISHED, cls.published_at > utcnow())

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.slug!r} {self.status}>"


class PostTranslation(Model):
    """A post's title and body in another language. It is current while the original's text is the one it was
    last reviewed against (`source_*`); the translator's workspace shows what changed in the original since."""

    __table_args__ = (sa.UniqueConstraint("post_id", "locale", name="uq_post_translation_post_locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(sa.String(16), index=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(LongText, default="")
    body_html: Mapped[str] = mapped_column(LongText, default="")
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)
    # When it was last marked current: the original's content_changed_at then, and its title and body then (the
    # text the diff of the original starts from). None: never reviewed against the original.
    source_changed_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)
    source_title: Mapped[str | None] = mapped_column(sa.String(255))
    source_body: Mapped[str | None] = mapped_column(LongText)
    # Optimistic locking, as on Post: two translators saving the same translation cannot overwrite each other.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    post: Mapped[Post] = relationship(back_populates="translations")

    def __str__(self) -> str:
        return f"{self.locale}: {self.title}"

    def __repr__(self) -> str:
        return f"<PostTranslation {self.post_id} {self.locale}>"


REVISION_KINDS = ("save", "restore", "conflict")


class PostRevision(Model):
    """A snapshot of a post's title and body, taken at every save."""

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(LongText, default="")
    # save: a normal save; restore: a restored revision; conflict: text kept from a save that lost a conflict.
    kind: Mapped[str] = mapped_column(sa.String(16), default="save")

    post: Mapped[Post] = relationship(back_populates="revisions")
    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<PostRevision {self.id} post={self.post_id} {self.kind}>"


class SlugRedirect(Model):
    """An old slug of a post, so links made before a rename keep working (301)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    old_slug: Mapped[str] = mapped_column(sa.String(255), unique=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Media(Model):
    """An uploaded image, re-encoded without metadata, with a thumbnail beside it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    uploader_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    uploader: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.original_name

    def __repr__(self) -> str:
        return f"<Media {self.id} {self.file_name}>"


class AuditLog(Model):
    """Who did what to which object, when and from where; written in the transaction of the change."""

    __table_args__ = (sa.Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    summary: Mapped[str] = mapped_column(sa.String(255), default="")
    # JSON: {"field": [before, after], …}
    changes: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditLog {self.id} {self.action} {self.object_type}:{self.object_id}>"


HIDE_REASONS = ("spam", "abuse", "off-topic", "other")


class Comment(Model):
    __table_args__ = (
        sa.Index("ix_comment_post_status_created", "post_id", "status", "created_at"),
        # The moderation queue's orders: newest first overall, within a status (InnoDB and SQLite add the
        # primary key to every index, so this is (status, created_at, id)), within a post, per author.
        sa.Index("ix_comment_created_id", "created_at", "id"),
        sa.Index("ix_comment_status_created", "status", "created_at"),
        sa.Index("ix_comment_post_created", "post_id", "created_at", "id"),
        sa.Index("ix_comment_author_status", "author_id", "status"),
        # Exports and bulk actions walk one status in primary-key order without sorting.
        sa.Index("ix_comment_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    # active_history: the status it had is loaded before a change, so the per-status counts can move it.
    status: Mapped[str] = mapped_column(sa.String(16), default=CommentStatus.PENDING, active_history=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id", ondelete="CASCADE"))
    # active_history, as for the status: a changed moment moves the comment between the counts per day.
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow, active_history=True)
    # Why a comment waits in the queue although pre-moderation is off (earlier hidden comments, links, words).
    held_reason: Mapped[str | None] = mapped_column(sa.String(255))
    # Set when a moderator hides a comment: one of HIDE_REASONS.
    hidden_reason: Mapped[str | None] = mapped_column(sa.String(16))
    moderated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)

    author: Mapped[User] = relationship(back_populates="comments", foreign_keys=[author_id])
    post: Mapped[Post] = relationship(back_populates="comments")
    moderated_by: Mapped[User | None] = relationship(foreign_keys=[moderated_by_id])

    def __str__(self) -> str:
        return f"#{self.id} on {self.post_id}"

    def __repr__(self) -> str:
        return f"<Comment {self.id} post={self.post_id} {self.status}>"


class CommentStatusCount(Model):
    """How many comments have each status, kept exact in the transaction of every change (cms/comment_counts.py):
    the moderation queue's tabs read three rows instead of counting a million."""

    status: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<CommentStatusCount {self.status} {self.n}>"


class CommentDayCount(Model):
    """How many comments were written on each day (UTC), kept exact in the transaction of every change
    (cms/comment_counts.py): the console's chart of the last 30 days reads 30 rows instead of counting every
    comment written in them (176,079 index entries, 85 ms, on the benchmark data set)."""

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<CommentDayCount {self.day} {self.n}>"


class PostStatusCount(Model):
    """How many posts have each status, kept exact in the transaction of every change (cms/post_counts.py): the
    post list's count by status, or of every post, reads four rows instead of counting the posts."""

    status: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<PostStatusCount {self.status} {self.n}>"


ABOUT_ME_LENGTH = 2000  # characters of a profile's "About me": TEXT holds 65,535 bytes, 4 a character at most
BLOCKED_WORD_LENGTH = 100  # characters, as the word is kept (trimmed, in lower case)


class BlockedWord(Model):
    """A word that sends a new comment to the queue, maintained by moderators."""

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(sa.String(BLOCKED_WORD_LENGTH), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()

    @validates("word")
    def _normalise(self, key: str, value: str) -> str:
        return folded(value).strip()  # as the comments' text is compared: "ＳＰＡＭ" and "spa\u200bm" are "spam"

    def __str__(self) -> str:
        return self.word


class ExportStatus(StrEnum):
    """A background export's state, stored as its lowercase name."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


EXPORT_STATUSES = tuple(ExportStatus)


class ExportJob(Model):
    """A comment export too large for one request, run in the background; the file lives a day.

    The worker running it holds a lease (`cms.leases`): `lease_token` names its claim and `heartbeat_at` says when
    it was last alive, so a job whose worker died is seen and failed."""

    __table_args__ = (sa.Index("ix_export_job_status_heartbeat_at", "status", "heartbeat_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(sa.String(8))
    selection: Mapped[str] = mapped_column(sa.Text)  # JSON of the filters and search
    locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    status: Mapped[str] = mapped_column(sa.String(16), default=ExportStatus.QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    file_name: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)
    lease_token: Mapped[str | None] = mapped_column(sa.String(32))
    retried_as: Mapped[str | None] = mapped_column(sa.String(32))  # the job "Run again" made of this failed one

    user: Mapped[User | None] = relationship()

    @property
    def percent(self) -> int:
        return 100 if self.status == ExportStatus.DONE else int(100 * self.done / self.total) if self.total else 0

    def __repr__(self) -> str:
        return f"<ExportJob {self.id} {self.status} {self.done}/{self.total}>"


class Follow(Model):
    __table_args__ = (sa.CheckConstraint("follower_id <> followed_id", name="not_self"),)

    follower_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    follower: Mapped[User] = relationship(foreign_keys=[follower_id])
    followed: Mapped[User] = relationship(foreign_keys=[followed_id])

    def __repr__(self) -> str:
        return f"<Follow {self.follower_id}->{self.followed_id}>"


class ContentVersion(Model):
    """One row counting changes to what the public sees; cached pages are keyed by it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0, server_default="0")
    # When n last moved: no public page's Last-Modified is older (a post withdrawn moves none of the others' stamps).
    changed_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)


class CatalogEntry(Model):
    """A translator's saved translation of one interface message (catalog `messages`) in one language."""

    __table_args__ = (sa.UniqueConstraint("locale", "msgkey"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(sa.String(16))
    # cms.catalog_editor.entry_key: a digest of msgctxt and msgid, whose texts are too long for a MariaDB key.
    # The header's key (msgid "") marks a language added in the console.
    msgkey: Mapped[str] = mapped_column(sa.String(16))
    msgctxt: Mapped[str | None] = mapped_column(sa.Text)
    msgid: Mapped[str] = mapped_column(LongText)
    msgid_plural: Mapped[str | None] = mapped_column(sa.Text)
    forms: Mapped[str] = mapped_column(LongText, default="{}")  # JSON: {"0": msgstr, "1": …}
    fuzzy: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)

    updated_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<CatalogEntry {self.locale} {self.msgkey}>"


class CatalogRevision(Model):
    """One row whose token changes with every catalog change; each app instance rebuilds when it moved."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")


class MailStatus(StrEnum):
    """An outgoing mail's state in the outbox, stored as its lowercase name."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutgoingMail(Model):
    """One outgoing message, written in the transaction of the change that causes it and sent by a worker
    (`cms.outbox`). A worker claims due rows under a lease (`lease_token`, `heartbeat_at`): a claim whose worker
    died goes back to the queue; a failure waits `next_attempt_at` and, past the last attempt, stays failed with
    `last_error` for administrators to see and send again."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (sa.Index("ix_outgoing_mail_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))  # the template: confirmation, reset, invitation, lockout…
    recipient: Mapped[str] = mapped_column(sa.String(255), index=True)
    sender: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(LongText, default="")
    html: Mapped[str | None] = mapped_column(LongText)
    status: Mapped[str] = mapped_column(sa.String(16), default=MailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)
    lease_token: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(PreciseDateTime)

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipient}"

    def __repr__(self) -> str:
        return f"<OutgoingMail {self.id} {self.kind} {self.status} {self.recipient}>"
