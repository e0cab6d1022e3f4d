"""The content translation workspace's rules: a post's original and one translation side by side, in the languages
a translator works in; saving and marking current with no lost edit; what changed in the original since the
translation was last marked current."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from cms import policies
from cms.domain import DomainError, is_blank
from cms.extensions import db
from cms.locale import supported_locales
from cms.markup import MarkupError, render_markdown
from cms.models import Post, PostTranslation, User, utcnow
from cms.posts import check_title_characters, is_current, mark_current

# A changed stretch of the original is compared word by word up to this many words and spaces on either side;
# a longer one is shown as removed and added whole (difflib's matching grows with the square of the length).
DIFF_WORD_LIMIT = 5000
TITLE_MAX_LENGTH = 255  # PostTranslation.title's column

# Words and the white space between them: joined again, the tokens give back the text exactly.
TOKENS = re.compile(r"\s+|\S+")


class TranslationError(DomainError):
    """A translation save the rules refuse; the message is shown with the form."""


class TranslationNotFound(TranslationError):
    """No such post, language, or a post not open to translators (a draft): a 404."""


class TranslationForbidden(TranslationError):
    """A language the translator does not work in: a 403."""


class TranslationConflict(TranslationError):
    """Someone saved this translation (or the post) after it was opened: nothing was written; the form keeps
    what was typed, and `theirs` is the translation as it now stands (None if it is gone)."""

    def __init__(self, theirs: PostTranslation | None):
        if theirs is None:
            super().__init__(
                _l("This translation was deleted after you opened it. Your text was not saved: save again to keep it.")
            )
        else:
            super().__init__(_l("Someone else saved this translation after you opened it. Your text was not saved."))
        self.theirs = theirs


class OriginalChanged(TranslationError):
    """The original changed after the workspace was opened: marking current would vouch for text not yet seen."""

    def __init__(self):
        super().__init__(
            _l("The original changed while you were translating; review the changes, then mark current again.")
        )


class Segment(NamedTuple):
    kind: str  # "same", "del" (only in the older text) or "ins" (only in the newer)
    text: str


@dataclass(frozen=True)
class OriginalChanges:
    """The original's title and body, from the text the translation was last marked current against to now."""

    title: list[Segment]
    body: list[Segment]

    @property
    def any(self) -> bool:
        return any(segment.kind != "same" for segment in self.title + self.body)


@dataclass
class Workspace:
    post: Post
    locale: str
    translation: PostTranslation | None
    languages: list[str]  # the languages the translator works in

    @property
    def state(self) -> str:
        """'missing', 'current' or 'outdated' (saved but not reviewed against the original's latest text)."""
        if self.translation is None:
            return "missing"
        return "current" if is_current(self.translation, self.post) else "outdated"

    @property
    def original_stamp(self) -> str:
        """Which text of the original the translator was shown: sent back when marking current."""
        return self.post.content_changed_at.isoformat()

    @property
    def changes(self) -> OriginalChanges | None:
        """What changed in the original since the translation was last marked current; None when it never was,
        or when the text it was marked against is not known (translations older than this record)."""
        translation = self.translation
        if translation is None or translation.source_changed_at is None or translation.source_title is None:
            return None
        return OriginalChanges(
            title=diff_text(translation.source_title, self.post.title),
            body=diff_text(translation.source_body or "", self.post.body or ""),
        )


def working_languages(user: User) -> list[str]:
    """The site languages `user` translates into (User.languages, by default all but the site's default)."""
    return policies.translations.languages(user, supported_locales(), current_app.config["DEFAULT_LOCALE"])


def open_workspace(user: User, post_id: int, locale: str) -> Workspace:
    """`post_id`'s original and its translation into `locale`, for `user` to work on."""
    if locale not in supported_locales():
        raise TranslationNotFound(_l("%(locale)s is not one of the site's languages.", locale=repr(locale)))
    post = db.session.scalar(select(Post).where(Post.id == post_id).options(selectinload(Post.translations)))
    if post is None or not policies.translations.may_open(user, post) or locale == post.locale:
        raise TranslationNotFound(_l("There is no such post to translate into %(locale)s.", locale=locale))
    languages = working_languages(user)
    if not policies.translations.may_translate_into(user, post, locale, languages):
        raise TranslationForbidden(_l("You do not translate into %(locale)s.", locale=locale))
    translation = next((t for t in post.translations if t.locale == locale), None)
    return Workspace(post, locale, translation, languages)


def save_translation(
    user: User,
    post_id: int,
    locale: str,
    *,
    title: str,
    body: str,
    version: str,
    original_seen: str,
    current: bool,
) -> Workspace:
    """Save `user`'s translation of a post into `locale` and, when `current`, mark it reviewed against the
    original's text as it was shown (`original_seen`). `version` is the translation's version when the form was
    opened ("0": there was none): a save over a version someone else wrote is refused, never merged silently."""
    workspace = open_workspace(user, post_id, locale)
    title, body = (title or "").strip(), body or ""
    if is_blank(title):  # a zero-width space alone is no title either: the post form refuses it too
        raise TranslationError(_l("A translation needs a title."))
    check_title_characters(title, TranslationError)
    if len(title) > TITLE_MAX_LENGTH:
        raise TranslationError(_l("The title is longer than %(max)d characters.", max=TITLE_MAX_LENGTH))
    try:
        html = render_markdown(body)
    except MarkupError as exc:
        raise TranslationError(str(exc)) from None
    translation, post = workspace.translation, workspace.post
    opened = (version or "").strip()
    if translation is not None and str(translation.version) != opened:
        raise TranslationConflict(translation)
    if translation is None and opened not in ("", "0"):  # opened as a saved translation, deleted since
        raise TranslationConflict(None)
    if current and original_seen != workspace.original_stamp:
        raise OriginalChanged()
    if translation is None:
        translation = PostTranslation(post=post, locale=locale)
        db.session.add(translation)
        workspace.translation = translation
    translation.title, translation.body = title, body
    translation.body_html = html
    translation.updated_at = utcnow()
    if current:
        mark_current(translation, post)
    # The post's version moves too, so an editor's post form opened before this save (it carries the translations
    # inline) meets an edit conflict instead of writing the old translation back.
    post.updated_at = utcnow()
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):  # another save reached the database between our read and write
        db.session.rollback()
        theirs = db.session.scalar(
            select(PostTranslation).where(PostTranslation.post_id == post_id, PostTranslation.locale == locale)
        )
        raise TranslationConflict(theirs) from None
    return workspace


def diff_text(old: str, new: str, word_limit: int = DIFF_WORD_LIMIT) -> list[Segment]:
    """`old` to `new` as segments: lines compared first, changed lines then word by word."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if op == "equal":
            segments.append(Segment("same", before))
        elif op == "replace":
            segments.extend(diff_words(before, after, word_limit))
        elif op == "delete":
            segments.append(Segment("del", before))
        else:
            segments.append(Segment("ins", after))
    return _merged(segments)


def diff_words(old: str, new: str, word_limit: int = DIFF_WORD_LIMIT) -> list[Segment]:
    """`old` to `new` word by word; stretches longer than `word_limit` tokens are replaced whole."""
    old_tokens, new_tokens = TOKENS.findall(old), TOKENS.findall(new)
    if len(old_tokens) > word_limit or len(new_tokens) > word_limit:
        return _merged([Segment("del", old), Segment("ins", new)])
    segments = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_tokens, new_tokens).get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(old_tokens[i1:i2])))
            continue
        segments.append(Segment("del", "".join(old_tokens[i1:i2])))
        segments.append(Segment("ins", "".join(new_tokens[j1:j2])))
    return _merged(segments)


def _merged(segments: list[Segment]) -> list[Segment]:
    """Neighbours of one kind joined, empty ones dropped."""
    merged: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        if merged and merged[-1].kind == segment.kind:
            merged[-1] = Segment(segment.kind, merged[-1].text + segment.text)
        else:
            merged.append(segment)
    return merged
