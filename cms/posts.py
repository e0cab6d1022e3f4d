"""Post rules: slugs, rendering, who may move a post to which status, and what the public may see."""

from slugify import slugify
from sqlalchemy import Select, select

from cms.extensions import db
from cms.markup import render_markdown
from cms.models import POST_STATUSES, Post, User, utcnow
from cms.permissions import Perm, user_can

# Moving a post into or out of these needs PUBLISH.
PUBLISHER_STATUSES = {"published", "archived"}


class PostError(ValueError):
    """A post change the rules refuse; the message is shown to the user."""


def check_status_change(user: User, old: str | None, new: str) -> None:
    """Authors may move their posts between draft and review; only PUBLISH publishes, unpublishes or archives."""
    if new not in POST_STATUSES:
        raise PostError(f"Unknown status {new!r}.")
    if old == new or user_can(user, Perm.PUBLISH):
        return
    if new in PUBLISHER_STATUSES or (old in PUBLISHER_STATUSES):
        raise PostError("Only editors with the publish permission can publish, unpublish or archive a post.")


def unique_slug(title: str, wanted: str | None = None, post_id: int | None = None) -> str:
    """A readable slug (transliterated for non-Latin titles) that no other post uses."""
    base = slugify(wanted or title or "", max_length=200, word_boundary=True) or "post"
    slug, n = base, 1
    while True:
        query = select(Post.id).where(Post.slug == slug)
        if post_id is not None:
            query = query.where(Post.id != post_id)
        if db.session.scalar(query) is None:
            return slug
        n += 1
        slug = f"{base}-{n}"


def prepare_post(post: Post, acting_user: User, old_status: str | None) -> None:
    """Apply the rules before a post is saved: status change, slug, rendered body, publish date."""
    check_status_change(acting_user, old_status, post.status)
    with db.session.no_autoflush:  # the new post must not be flushed before it has a slug
        post.slug = unique_slug(post.title, post.slug, post.id)
    post.body_html = render_markdown(post.body or "")
    if post.status == "published" and post.published_at is None:
        post.published_at = utcnow()


def public_posts() -> Select:
    """Published posts whose time has come, newest first."""
    return (
        select(Post)
        .where(Post.status == "published", Post.published_at <= utcnow())
        .order_by(Post.published_at.desc(), Post.id.desc())
    )


def change_post_status(user: User, posts: list[Post], status: str) -> tuple[int, int]:
    """Move each post to `status` where the rules allow it; returns (changed, refused)."""
    changed = refused = 0
    for post in posts:
        try:
            check_status_change(user, post.status, status)
        except PostError:
            refused += 1
            continue
        if post.status != status:
            post.status = status
            if status == "published" and post.published_at is None:
                post.published_at = utcnow()
            changed += 1
    db.session.commit()
    return changed, refused
