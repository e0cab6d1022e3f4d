"""One permission policy per model (Wagtail's `permission_policies`): who may see, change and remove what.

The console's scopes and actions, the public site, the API, the CLI and background jobs ask these objects
instead of testing permission bits themselves, so each rule is written, and tested, once. A policy takes a
user (or None for an anonymous reader) and returns a bool, or a SQL clause for lists.
"""

from __future__ import annotations

import sqlalchemy as sa

from cms.models import ExportJob, Media, Post, PostStatus, User
from cms.permissions import Perm, user_can

# Moving a post into or out of these statuses needs PUBLISH: they put it on the site or take it off.
PUBLISHER_STATUSES = frozenset({PostStatus.PUBLISHED, PostStatus.ARCHIVED})


class PostPolicy:
    """Authors see and edit their own posts and move them between draft and review; PUBLISH does the rest."""

    def may_publish(self, user: User) -> bool:
        return user_can(user, Perm.PUBLISH)

    def visible_clause(self, user: User):
        """The console's row rule: a WHERE clause selecting the posts `user` may see and touch."""
        if self.may_publish(user):
            return sa.true()
        return Post.author_id == user.id

    def may_see(self, user: User, post: Post) -> bool:
        return self.may_publish(user) or post.author_id == user.id

    def may_edit(self, user: User, post: Post) -> bool:
        return user_can(user, Perm.WRITE) and self.may_see(user, post)

    def may_change_author(self, user: User) -> bool:
        return self.may_publish(user)

    def may_change_status(self, user: User, old: str | None, new: str) -> bool:
        if old == new or self.may_publish(user):
            return True
        return new not in PUBLISHER_STATUSES and old not in PUBLISHER_STATUSES

    def statuses_for(self, user: User, current: str | None) -> list[PostStatus]:
        """The statuses the form offers `user` for a post now in `current` (None for a new post): the
        writer's statuses and the current one; whether the move itself is allowed is may_change_status's."""
        if self.may_publish(user):
            return list(PostStatus)
        return [status for status in PostStatus if status not in PUBLISHER_STATUSES or status == current]

    def may_delete(self, user: User, post: Post) -> bool:
        """Deleting a live or archived post takes it off the site: only PUBLISH may."""
        if not self.may_edit(user, post):
            return False
        return post.status not in PUBLISHER_STATUSES or self.may_publish(user)


class MediaPolicy:
    """Everyone who writes may upload and pick images; only the uploader or an editor removes one."""

    def may_delete(self, user: User, media: Media) -> bool:
        return media.uploader_id == user.id or user_can(user, Perm.PUBLISH)


class CommentPolicy:
    """Moderators work the queue; deactivating the authors of comments is an administrator's call."""

    def may_moderate(self, user: User) -> bool:
        return user_can(user, Perm.MODERATE)

    def may_deactivate_authors(self, user: User) -> bool:
        return user_can(user, Perm.ADMIN)


class ExportPolicy:
    """A background export's file is the requester's; administrators may fetch any."""

    def may_download(self, user: User, job: ExportJob) -> bool:
        return job.user_id == user.id or user_can(user, Perm.ADMIN)

    def visible_clause(self, user: User):
        """The jobs list's rule: a WHERE clause selecting the jobs whose files `user` may download."""
        return sa.true() if user_can(user, Perm.ADMIN) else ExportJob.user_id == user.id


# Posts translators work on: published ones, live or scheduled; drafts and posts in review stay with their writers.
TRANSLATABLE_STATUSES = frozenset({PostStatus.PUBLISHED})


class TranslationPolicy:
    """Translators translate published posts into the languages they work in: a translation's title and body,
    which they may save and mark current; never the original, its status or its author (that is PostPolicy's)."""

    def may_translate(self, user: User) -> bool:
        return user_can(user, Perm.TRANSLATE)

    def languages(self, user: User, site_locales: list[str], default: str) -> list[str]:
        """The languages `user` translates into, in the site's order: those set on the account (User.languages),
        else every site language but the default. Administrators work in all of them."""
        if not self.may_translate(user):
            return []
        if user_can(user, Perm.ADMIN):
            return list(site_locales)
        chosen = {code.strip() for code in (user.languages or "").split(",") if code.strip()}
        if not chosen:
            return [code for code in site_locales if code != default]
        return [code for code in site_locales if code in chosen]

    def visible_clause(self, user: User):
        """The posts `user` may open in the translation workspace."""
        return Post.status.in_(TRANSLATABLE_STATUSES) if self.may_translate(user) else sa.false()

    def may_open(self, user: User, post: Post) -> bool:
        return self.may_translate(user) and post.status in TRANSLATABLE_STATUSES

    def may_translate_into(self, user: User, post: Post, locale: str, languages: list[str]) -> bool:
        """Whether `user`, working in `languages`, may edit `post`'s translation into `locale`."""
        return self.may_open(user, post) and locale in languages and locale != post.locale


class CatalogPolicy:
    """Translators edit the catalogs; adding a language is an administrator's call."""

    def may_edit(self, user: User) -> bool:
        return user_can(user, Perm.TRANSLATE)

    def may_add_language(self, user: User) -> bool:
        return user_can(user, Perm.ADMIN)


posts = PostPolicy()
media = MediaPolicy()
comments = CommentPolicy()
exports = ExportPolicy()
catalogs = CatalogPolicy()
translations = TranslationPolicy()
