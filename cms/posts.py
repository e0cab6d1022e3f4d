"""Post rules: slugs, rendering, translations, revisions, edit conflicts, who may move a post to which
status, and what the public may see."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from slugify import slugify
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from cms import audit, policies
from cms.domain import DomainError, has_control_characters, is_blank
from cms.extensions import db
from cms.markup import render_markdown
from cms.models import Post, PostRevision, PostStatus, PostTranslation, SlugRedirect, User, utcnow


class PostError(DomainError):
    """A post change the rules refuse; the message is shown to the user."""


class RevisionNotFound(PostError):
    """The revision is not one of this post's."""


@dataclass
class EditConflict(Exception):
    """Someone saved the post after this editor opened it: their text is in `post`, ours in `your_*`."""

    post: Post
    their_version: int
    your_title: str
    your_body: str

    @property
    def their_title(self) -> str:
        return self.post.title

    @property
    def their_body(self) -> str:
        return self.post.body

    @property
    def their_author(self) -> str:
        """Who made the save this editor's text collided with (texts kept from conflicts are not saves)."""
        saves = (revision for revision in self.post.revisions if revision.kind != "conflict")
        latest = next(saves, None)
        return latest.user.username if latest is not None and latest.user is not None else "?"


def check_status_change(user: User, old: str | None, new: str) -> None:
    """Authors may move their posts between draft and review; only PUBLISH publishes, unpublishes or archives."""
    if new not in tuple(PostStatus):
        raise PostError(_l("Unknown status %(status)s.", status=repr(new)))
    if not policies.posts.may_change_status(user, old, new):
        raise PostError(_l("Only editors with the publish permission can publish, unpublish or archive a post."))


def check_publication_date(user: User, post: Post, old_status: str | None) -> None:
    """Only PUBLISH moves a published post's date: a date in the future takes a live post off the site (it is then
    scheduled), as unpublishing does. The form shows whole seconds, so a date equal to the stored one but for its
    fraction of a second is no change, and the stored one is kept."""
    history = sa.inspect(post).attrs.published_at.history
    if old_status != PostStatus.PUBLISHED or not history.has_changes() or policies.posts.may_publish(user):
        return
    before, after = (history.deleted or [None])[0], post.published_at
    if before is not None and after is not None and before.replace(microsecond=0) == after.replace(microsecond=0):
        post.published_at = before
        return
    raise PostError(_l("Only editors with the publish permission can change a published post's date."))


SLUG_LENGTH = 200  # a post's slug, its "-2" included


def check_title_characters(title: str, error: type[DomainError] = PostError) -> None:
    """A post's or a translation's title is kept as typed, white space included (a tab, a line break), but holds no
    other control character (a NUL, an escape): a page shows it as nothing, and XML cannot hold most of them."""
    if has_control_characters(title, white_space_allowed=True):
        raise error(_l("A title is one line of letters, digits, spaces and punctuation."))


def tidy_slug(text: str) -> str:
    """A slug as posts are given one: lower case, transliterated, words joined by '-'."""
    return slugify(text, max_length=SLUG_LENGTH, word_boundary=True)


def unique_slug(title: str, wanted: str | None = None, post_id: int | None = None) -> str:
    """A readable slug (transliterated for non-Latin titles) that no other post uses now or used before: an old
    slug keeps redirecting to its own post, so nobody can take over its links."""
    base = tidy_slug(wanted or title or "") or "post"
    slug, n = base, 1
    while not _slug_available(slug, post_id):
        n += 1
        suffix = f"-{n}"
        slug = base[: SLUG_LENGTH - len(suffix)].rstrip("-") + suffix  # the number kept within SLUG_LENGTH
    return slug


def _slug_available(slug: str, post_id: int | None) -> bool:
    current = select(Post.id).where(Post.slug == slug)
    former = select(SlugRedirect.post_id).where(SlugRedirect.old_slug == slug)
    if post_id is not None:
        current, former = current.where(Post.id != post_id), former.where(SlugRedirect.post_id != post_id)
    return db.session.scalar(current.union_all(former).limit(1)) is None


def _changed(obj, *fields: str) -> bool:
    state = sa.inspect(obj)
    return state.pending or state.transient or any(state.attrs[f].history.has_changes() for f in fields)


def _old_value(obj, field: str):
    history = sa.inspect(obj).attrs[field].history
    return history.deleted[0] if history.deleted else None


def _keep_old_slug(post: Post, old_slug: str | None) -> None:
    """Remember a replaced slug so its URL answers with a 301 to the new one."""
    if not old_slug or old_slug == post.slug or post.id is None:
        return
    # Only this post's own redirects change: taking back an old slug ends its redirect.
    own = SlugRedirect.post_id == post.id
    db.session.execute(delete(SlugRedirect).where(own, SlugRedirect.old_slug.in_([old_slug, post.slug])))
    db.session.add(SlugRedirect(old_slug=old_slug, post_id=post.id))


def prepare_translations(post: Post, supported: list[str]) -> tuple[list[PostTranslation], int]:
    """Check the post's translations and render the changed ones; returns those changed in this save, and how many
    the form deleted. Those leave the post first: a language deleted and added again in one save is a new
    translation."""
    removed = _delete_removed_translations(post)
    seen, changed = set(), []
    for translation in post.translations:
        if translation.locale not in supported:
            raise PostError(
                _l(
                    "%(locale)s is not one of the site's languages (%(locales)s).",
                    locale=repr(translation.locale),
                    locales=", ".join(supported),
                )
            )
        if translation.locale == post.locale:
            raise PostError(
                _l("The post is written in %(locale)s; a translation must be in another language.", locale=post.locale)
            )
        if translation.locale in seen:
            raise PostError(_l("There are two translations into %(locale)s; keep one.", locale=translation.locale))
        seen.add(translation.locale)
        if is_blank(translation.title):
            raise PostError(
                _l("The %(locale)s translation needs a title: spaces alone are not one.", locale=translation.locale)
            )
        translation.title = translation.title.strip()
        check_title_characters(translation.title)
        if _changed(translation, "title", "body", "locale"):
            translation.body_html = render_markdown(translation.body or "")
            translation.updated_at = utcnow()
            changed.append(translation)
    _check_no_language_taken_over(post)
    return changed, removed


def _delete_removed_translations(post: Post) -> int:
    """The console's form deletes a translation in the session and leaves it among the post's; it was checked as
    if kept ("two translations into es"). Its DELETE goes now: the unit of work inserts before it deletes, so a new
    translation into the same language would meet the old row. Returns how many."""
    removed = [translation for translation in post.translations if translation in db.session.deleted]
    for translation in removed:
        post.translations.remove(translation)
    if removed:
        db.session.flush(removed)
    return len(removed)


def _check_no_language_taken_over(post: Post) -> None:
    """A saved translation may not move into the language another one held before this save (two swapping theirs):
    the rows are updated one at a time, and the first update met the other's language (the form showed the refused
    statement)."""
    held = {_old_value(t, "locale") or t.locale: t for t in post.translations if t.id is not None}
    for translation in post.translations:
        previous = _old_value(translation, "locale")
        other = held.get(translation.locale)
        if translation.id is not None and previous and other is not None and other is not translation:
            raise PostError(
                _l(
                    "The %(locale)s translation takes the language another translation had: change one translation's"
                    " language, save, then the other.",
                    locale=translation.locale,
                )
            )


def mark_current(translation: PostTranslation, post: Post) -> None:
    """Record that `translation` was reviewed against the original's text as it stands now."""
    translation.source_changed_at = post.content_changed_at
    translation.source_title = post.title
    translation.source_body = post.body


def is_current(translation: PostTranslation, post: Post) -> bool:
    """Reviewed against the original's latest text: nothing in the original changed since it was marked current."""
    return translation.source_changed_at is not None and translation.source_changed_at >= post.content_changed_at


def prepare_post(post: Post, acting_user: User, old_status: str | None, supported_locales: list[str]) -> None:
    """Apply the rules before a post is saved: status change, slug, rendered bodies, dates, a revision.

    A translation saved in the same form as the original was reviewed against it: it is marked current."""
    check_status_change(acting_user, old_status, post.status)
    check_publication_date(acting_user, post, old_status)
    if is_blank(post.title):
        raise PostError(_l("A post needs a title: spaces alone are not one."))
    post.title = post.title.strip()
    check_title_characters(post.title)
    if post.locale not in supported_locales:
        raise PostError(_l("%(locale)s is not one of the site's languages.", locale=repr(post.locale)))
    with db.session.no_autoflush:  # the new post must not be flushed before it has a slug
        old_slug = _old_value(post, "slug")
        post.slug = unique_slug(post.title, post.slug, post.id)
        _keep_old_slug(post, old_slug)
        changed_translations, removed = prepare_translations(post, supported_locales)
    if _changed(post, "title", "body"):
        post.body_html = render_markdown(post.body or "")
        post.content_changed_at = utcnow()
    if changed_translations or removed:
        # The post's version moves (as a save in the translation workspace moves it), so another post form opened
        # before this save meets an edit conflict instead of writing the old translations back.
        post.updated_at = utcnow()
    for translation in changed_translations:
        mark_current(translation, post)
    if post.status == PostStatus.PUBLISHED and post.published_at is None:
        post.published_at = utcnow()
    add_revision(post, acting_user)


def add_revision(post: Post, user: User | None, kind: str = "save", title=None, body=None) -> PostRevision:
    revision = PostRevision(
        post=post,
        user_id=getattr(user, "id", None),
        title=post.title if title is None else title,
        body=post.body if body is None else body,
        kind=kind,
    )
    db.session.add(revision)
    return revision


def check_version(post: Post, submitted_version, your_title: str, your_body: str) -> None:
    """Refuse a save based on an older version than the one stored (optimistic locking)."""
    try:
        submitted = int(submitted_version)
    except (TypeError, ValueError):
        raise PostError(_l("The form lost track of the post's version; reload the page.")) from None
    if submitted != post.version:
        raise EditConflict(post, post.version, your_title, your_body)


def conflict_after_failed_save(post_id: int, your_title: str, your_body: str) -> EditConflict | None:
    """After a save lost the race at the database (the version changed between check and UPDATE): the
    conflict with the post as it now stands, or None when the post is gone."""
    db.session.rollback()
    post = db.session.get(Post, post_id)
    return None if post is None else EditConflict(post, post.version, your_title, your_body)


def keep_conflicting_text(conflict: EditConflict, user: User) -> PostRevision:
    """Store the text of a save that lost a conflict, so nothing typed is lost."""
    revision = PostRevision(
        post_id=conflict.post.id,
        user_id=user.id,
        title=conflict.your_title[:255],
        body=conflict.your_body,
        kind="conflict",
    )
    db.session.add(revision)
    db.session.commit()
    return revision


RESTORE_AFTER_A_SAVE = _l(
    "The post was saved by someone else meanwhile; nothing was restored. Look at its text, then restore."
)


def restore_revision(user: User, post: Post, revision_id: int, seen_version: str | None = None) -> PostRevision:
    """Put a revision's title and body back, with a save's checks; the restore is itself a new revision. A text
    kept from a conflict was never checked: its title may be blank or hold control characters, its body past what
    the formatter takes (MarkupError). The translations go out of date only when the text changes. A save
    committed by someone else since the history page was opened (`seen_version`, the post's version there) or
    during the restore refuses it (PostError), their text kept."""
    revision = db.session.get(PostRevision, revision_id)
    if revision is None or revision.post_id != post.id:
        raise RevisionNotFound(_l("That revision does not belong to this post."))
    if seen_version is not None:
        try:
            seen = int(seen_version)
        except ValueError:
            raise PostError(_l("The form lost track of the post's version; reload the page.")) from None
        if seen != post.version:
            raise PostError(RESTORE_AFTER_A_SAVE)
    if is_blank(revision.title):
        raise PostError(_l("That revision has no title: it cannot be restored. Copy its text into the post instead."))
    check_title_characters(revision.title)
    title, body = revision.title.strip(), revision.body or ""
    if (title, body) != (post.title, post.body or ""):
        body_html = render_markdown(body)  # before any change: a text it refuses leaves the post as it was
        post.title, post.body, post.body_html = title, body, body_html
        post.content_changed_at = utcnow()
    restored = add_revision(post, user, kind="restore")
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise PostError(RESTORE_AFTER_A_SAVE) from None
    return restored


def translation_state(post: Post, locales: list[str]) -> dict[str, str]:
    """Per locale: 'original', 'current', 'outdated' or 'missing'."""
    state = {locale: "missing" for locale in locales}
    state[post.locale] = "original"
    for translation in post.translations:
        state[translation.locale] = "current" if is_current(translation, post) else "outdated"
    return state


def missing_translation(locale: str):
    """A WHERE clause: posts that have no translation into `locale` and are not written in it."""
    return (Post.locale != locale) & ~Post.translations.any(PostTranslation.locale == locale)


def readable_in(locale: str):
    """A WHERE clause: posts written in `locale` or translated into it."""
    return (Post.locale == locale) | Post.translations.any(PostTranslation.locale == locale)


def public_posts() -> Select:
    """Published posts whose time has come, newest first."""
    return select(Post).where(Post.is_live).order_by(Post.published_at.desc(), Post.id.desc())


def public_redirect(slug: str) -> Post | None:
    """The public post an old slug now points to, or the one a slug typed otherwise names (`Café`, an é sent as e
    and an accent, as some systems send it): the slug as posts are given one."""
    moved = db.session.scalar(
        public_posts().join(SlugRedirect, SlugRedirect.post_id == Post.id).where(SlugRedirect.old_slug == slug)
    )
    tidy = tidy_slug(slug)
    if moved is None and tidy and tidy != slug:
        return db.session.scalar(public_posts().where(Post.slug == tidy)) or public_redirect(tidy)
    return moved


def change_post_status(user: User, posts: list[Post], status: PostStatus) -> tuple[int, int]:
    """Move each post to `status` where the rules allow it, audited and committed; returns (changed, refused)."""
    changed = refused = 0
    for post in posts:
        if not policies.posts.may_edit(user, post) or not policies.posts.may_change_status(user, post.status, status):
            refused += 1
            continue
        if post.status != status:
            post.status = status
            if status == PostStatus.PUBLISHED and post.published_at is None:
                post.published_at = utcnow()
            changed += 1
    audit.record(f"bulk_{status}", "Post", summary=f"{changed} changed, {refused} refused")
    db.session.commit()
    return changed, refused


def check_delete(user: User, post: Post) -> None:
    """Deleting a live or archived post takes it off the site: only PUBLISH may."""
    if not policies.posts.may_delete(user, post):
        raise PostError(_l("Only editors with the publish permission can delete a published or archived post."))


def needs_translation(locales: list[str]):
    """A WHERE clause: posts missing a translation into one of `locales`, or with one not current."""
    clauses = []
    for locale in locales:
        not_reviewed = PostTranslation.source_changed_at.is_(None)
        outdated = Post.translations.any(
            (PostTranslation.locale == locale)
            & (not_reviewed | (PostTranslation.source_changed_at < Post.content_changed_at))
        )
        clauses.append(missing_translation(locale) | outdated)
    return sa.or_(*clauses)


def untranslated_posts(locales: list[str], page: int = 1, per_page: int = 50):
    """Published posts that need translation work, newest first, with each locale's state."""
    query = (
        select(Post)
        .where(Post.status == PostStatus.PUBLISHED, needs_translation(locales))
        .options(selectinload(Post.translations))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=True)
    return pagination, [(post, translation_state(post, locales)) for post in pagination.items]
