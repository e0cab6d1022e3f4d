"""The database models: accounts and roles, posts, comments and follows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_security import RoleMixin, UserMixin
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from cms.extensions import Model, db
from cms.permissions import names_of

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
        return names_of(self.permissions or 0)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Role {self.name} {self.permissions:#04x}>"


class User(Model, UserMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    confirmed_at: Mapped[datetime | None]
    fs_uniquifier: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(64))
    about_me: Mapped[str | None] = mapped_column(sa.Text)
    member_since: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(sa.String(16))

    roles: Mapped[list[Role]] = relationship(  # type: ignore[assignment]
        secondary=roles_users, back_populates="users", lazy="selectin"
    )
    posts: Mapped[list[Post]] = relationship(back_populates="author", passive_deletes=True)
    comments: Mapped[list[Comment]] = relationship(back_populates="author", passive_deletes=True)

    @validates("email", "username")
    def _lowercase(self, key: str, value: str | None) -> str | None:
        # MariaDB's _ci collation treats Bob@x.io and bob@x.io as one; SQLite must agree.
        return value.strip().lower() if value else value

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def __str__(self) -> str:
        return self.username or self.email

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


POST_STATUSES = ("draft", "review", "published", "archived")
COMMENT_STATUSES = ("pending", "approved", "hidden")


class Post(Model):
    __table_args__ = (sa.Index("ix_post_status_published_at", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(255), index=True)
    slug: Mapped[str] = mapped_column(sa.String(255), unique=True)
    body: Mapped[str] = mapped_column(LongText, default="")
    body_html: Mapped[str] = mapped_column(LongText, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    author: Mapped[User] = relationship(back_populates="posts")
    comments: Mapped[list[Comment]] = relationship(back_populates="post", passive_deletes=True)

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.slug!r} {self.status}>"


class Comment(Model):
    __table_args__ = (
        sa.Index("ix_comment_post_status_created", "post_id", "status", "created_at"),
        sa.Index("ix_comment_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, default=utcnow)

    author: Mapped[User] = relationship(back_populates="comments")
    post: Mapped[Post] = relationship(back_populates="comments")

    def __str__(self) -> str:
        return f"#{self.id} on {self.post_id}"

    def __repr__(self) -> str:
        return f"<Comment {self.id} post={self.post_id} {self.status}>"


class Follow(Model):
    __table_args__ = (sa.CheckConstraint("follower_id <> followed_id", name="not_self"),)

    follower_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    follower: Mapped[User] = relationship(foreign_keys=[follower_id])
    followed: Mapped[User] = relationship(foreign_keys=[followed_id])

    def __repr__(self) -> str:
        return f"<Follow {self.follower_id}->{self.followed_id}>"
