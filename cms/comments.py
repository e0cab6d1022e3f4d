"""Comment rules: who may comment, what is held for moderation, the moderators' selection of comments,
and bulk moderation in batched statements."""

from __future__ import annotations

import functools
import html as html_module
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import LazyString, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from cms import audit, comment_counts, page_cache
from cms.counting import hits_in_first
from cms.domain import DomainError, folded, is_blank
from cms.extensions import db
from cms.markup import MarkupError, render_comment
from cms.models import (
    BLOCKED_WORD_LENGTH,
    COMMENT_STATUSES,
    HIDE_REASONS,
    BlockedWord,
    Comment,
    CommentStatus,
    Post,
    User,
    utcnow,
)
from cms.permissions import Perm, user_can
from cms.search import POST_TITLES, comment_clause, referring_contains_clause

# What the comment column holds on MariaDB (TEXT): a 5,000-character comment of footnote references became 174 KB.
MAX_COMMENT_HTML_BYTES = 65_535
# Control characters other than tab and line ends: nothing a reader sees, and a NUL was kept in the stored text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same words from the same reader on the same post within this many seconds are the form sent again.
SAME_COMMENT_SECONDS = 60
MAX_COMMENT_LENGTH = 5000
BATCH = 1000
# A link in a rendered comment: an anchor, or an address written out in its text (readers copy those).
ANCHOR = re.compile(r"<a\s", re.I)
WRITTEN_ADDRESS = re.compile(r"(?:\b[a-z][a-z0-9+.-]*:|(?<![\w/:]))//[^\s/]\S*|\bwww\.\S+", re.I)
# Where the rendered HTML breaks the text into separate lines (other tags sit inside words: vi<em>a</em>gra).
BLOCK_TAG = re.compile(r"</?(?:p|br|li|ul|ol|blockquote|pre)\b[^>]*>", re.I)
# A status as moderators read it, in the queue's tabs and filters and in exports.
STATUS_LABELS: dict[str, LazyString] = {
    CommentStatus.PENDING: _l("Pending"),
    CommentStatus.APPROVED: _l("Approved"),
    CommentStatus.HIDDEN: _l("Hidden"),
}


class CommentError(DomainError):
    """A comment change the rules refuse; the message is shown to the user."""


class CommentNotAllowed(CommentError):
    """The user may not comment (no COMMENT permission, inactive, or email not confirmed)."""


# -- readers commenting ------------------------------------------------------------------------------
def may_comment(user: User) -> bool:
    """Readers with COMMENT may comment once their email address is confirmed."""
    return bool(user.active and user.confirmed_at and user_can(user, Perm.COMMENT))


def blocked_words() -> list[str]:
    return list(db.session.scalars(select(BlockedWord.word)))


def check_new_word(word: BlockedWord) -> None:
    """A moderator's blocked word is not on the list already. The form's own check compares the word as typed, and
    the model keeps it trimmed and in lower case (" SPAM " is "spam"): the database refused the copy, and the form
    showed the refused statement. Lower case can be longer than the word typed ("ß" is "ss"): past the column's
    length, MariaDB refused the row."""
    longest = BLOCKED_WORD_LENGTH
    if is_blank(word.word):  # kept folded, a zero-width space or a soft hyphen alone is nothing: it held nothing
        raise CommentError(_l("A blocked word needs letters or digits: invisible characters alone are not one."))
    if len(word.word) > longest:
        raise CommentError(_l("A blocked word is at most %(num)d characters long in lower case.", num=longest))
    with db.session.no_autoflush:
        other = db.session.scalar(
            select(BlockedWord.id).where(BlockedWord.word == word.word, BlockedWord.id != word.id).limit(1)
        )
    if other is not None:
        raise CommentError(_l("“%(word)s” is on the list already.", word=word.word))


# Scripts written without spaces between words (Han, kana, Hangul is spaced; Thai, Lao, Khmer, Myanmar): a blocked
# word in them is looked for anywhere in the text. Others are whole words (or phrases of whole words).
UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class BlockedList:
    """The blocked words, ready to be looked for in any number of texts: the whole-word ones (a phrase is its
    words in a row, "buy now" not in "buy nowhere", "été" not in "société") by their first word, the others as
    substrings. A comment costs one pass over its words, not one search per blocked word (5,000 words took 0.4 s of
    a worker for each long comment)."""

    by_first_word: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]  # first word: (its words, the entry)
    substrings: tuple[str, ...]

    @classmethod
    def of(cls, words: tuple[str, ...]) -> BlockedList:
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        substrings = []
        for word in map(folded, words):
            tokens = tuple(WORD.findall(word))
            if UNSPACED.search(word) or not tokens:
                if word.strip():
                    substrings.append(word.strip())
            else:
                by_first.setdefault(tokens[0], []).append((tokens, word.strip()))
        return cls({first: tuple(seqs) for first, seqs in by_first.items()}, tuple(substrings))

    def found_in(self, text: str) -> str | None:
        """The first blocked word `text` (already folded) holds, or None."""
        tokens = WORD.findall(text)
        for position, token in enumerate(tokens):
            for sequence, word in self.by_first_word.get(token, ()):
                if tuple(tokens[position : position + len(sequence)]) == sequence:
                    return word
        return next((word for word in self.substrings if word in text), None)


@functools.lru_cache(maxsize=1)
def _blocked_list(words: tuple[str, ...]) -> BlockedList:
    """The list last read, kept while it reads the same: keyed by its words, it is never out of date."""
    return BlockedList.of(words)


def shown_text(html: str) -> str:
    """The text a reader sees in a rendered comment: no tags, entities read (vi&#97;gra is viagra), compatibility
    forms folded (ＶＩＡＧＲＡ), invisible format characters dropped (via\u200bgra), in lower case."""
    return folded(html_module.unescape(re.sub(r"<[^>]+>", "", BLOCK_TAG.sub("\n", html))))


def links_in(html: str) -> int:
    """The links a reader meets in a rendered comment: its anchors (however the Markdown or HTML wrote them), and
    the addresses written out in the rest of its text."""
    outside_anchors = re.sub(r"<a\s.*?</a>", " ", html, flags=re.I | re.S)
    return len(ANCHOR.findall(html)) + len(WRITTEN_ADDRESS.findall(shown_text(outside_anchors)))


def hold_reason(user: User, body: str, html: str) -> str | None:
    """Why a new comment (`body` as typed, `html` as rendered) must wait for a moderator even when pre-moderation
    is off, or None. Links are counted in what readers will see, and blocked words looked for there as well as in
    the text typed: an entity, a reference link or a zero-width space in the source hides nothing from them."""
    hidden_before = db.session.scalar(
        select(func.count()).where(Comment.author_id == user.id, Comment.status == CommentStatus.HIDDEN)
    )
    if hidden_before:
        return f"earlier comments hidden ({hidden_before})"
    links = links_in(html)
    if links > current_app.config["COMMENT_MAX_LINKS"]:
        return f"{links} links"
    blocked = _blocked_list(tuple(blocked_words()))
    for text in (folded(body), shown_text(html)):
        word = blocked.found_in(text)
        if word:
            return f"blocked word: {word}"
    return None


# A hold's reason as hold_reason keeps it (in English, and so in the exports and the audit log), and as a moderator
# reads it in their language.
HOLD_REASONS = [
    (re.compile(r"earlier comments hidden \((\d+)\)"), lambda n: gettext("earlier comments hidden (%(num)s)", num=n)),
    (re.compile(r"(\d+) links"), lambda n: ngettext("%(num)s link", "%(num)s links", int(n), num=n)),
    (re.compile(r"blocked word: (.+)", re.S), lambda word: gettext("blocked word: %(word)s", word=word)),
]


def shown_hold_reason(reason: str) -> str:
    """A kept hold reason in the reader's language (one of another form, as it is)."""
    for pattern, shown in HOLD_REASONS:
        match = pattern.fullmatch(reason)
        if match:
            return shown(match.group(1))
    return reason


def add_comment(user: User, post: Post, body: str) -> Comment:
    if not may_comment(user):
        raise CommentNotAllowed(_l("Confirm your email address to comment."))
    body = CONTROL_CHARACTERS.sub("", body or "").strip()
    if is_blank(body):
        raise CommentError(_l("A comment cannot be empty."))
    if len(body) > MAX_COMMENT_LENGTH:
        raise CommentError(_l("A comment can be at most %(num)d characters long.", num=MAX_COMMENT_LENGTH))
    try:
        html = render_comment(body)
    except MarkupError as exc:
        raise CommentError(str(exc)) from None
    if is_blank(shown_text(html)):  # only what the page drops: a script, an HTML comment, an image
        raise CommentError(_l("A comment cannot be empty."))
    if len(html.encode()) > MAX_COMMENT_HTML_BYTES:
        raise CommentError(_l("Formatted, this comment is too long: use fewer links and references."))
    # One comment at a time per reader: two copies sent at the same instant (a double click) both found no copy
    # before either was saved. A write to the reader's row waits for the other's commit, on MariaDB (its row lock)
    # and on SQLite (one writer at a time), and READ COMMITTED then shows the copy saved meanwhile.
    db.session.execute(update(User).where(User.id == user.id).values(id=User.id))
    sent_before = db.session.scalar(
        select(Comment)
        .where(Comment.author_id == user.id, Comment.post_id == post.id, Comment.body == body)
        .where(Comment.created_at >= utcnow() - timedelta(seconds=SAME_COMMENT_SECONDS))
        .order_by(Comment.id.desc())
        .limit(1)
    )
    if sent_before is not None:  # the form sent again (a second click, a reload): the comment is there once
        return sent_before
    held = hold_reason(user, body, html)
    premoderated = current_app.config["COMMENTS_PREMODERATED"]
    comment = Comment(
        body=body,
        body_html=html,
        author=user,
        post=post,
        status=CommentStatus.PENDING if premoderated or held else CommentStatus.APPROVED,
        held_reason=held,
    )
    db.session.add(comment)
    db.session.commit()
    return comment


# -- the moderators' selection -----------------------------------------------------------------------
@dataclass
class CommentSelection:
    """The comments a moderator is looking at: the list's filters and search, in domain terms."""

    status: str | None = None
    post_id: int | None = None
    post_title: str | None = None
    author: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None
    # A slice of the primary keys (after, through]: how an export splits its work between processes.
    id_after: int | None = None
    id_through: int | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        for key in ("created_from", "created_before"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> CommentSelection:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("created_from", "created_before"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


def search_clause(search: str):
    """Every term must be in the body (a substring, ignoring case, found through the full-text index) or be
    the author's username or email. The author must be named in full: `ali` no longer finds alice's comments
    (it finds comments containing "ali"), so the search never reads every account (cms.search)."""
    return comment_clause(search)


def selection_clauses(selection: CommentSelection) -> list:
    """WHERE clauses on Comment alone (no joins), so any query over comments can use them."""
    where = []
    if selection.id_after is not None:
        where.append(Comment.id > selection.id_after)
    if selection.id_through is not None:
        where.append(Comment.id <= selection.id_through)
    if selection.status:
        where.append(Comment.status == selection.status)
    if selection.post_id is not None:
        where.append(Comment.post_id == selection.post_id)
    if selection.post_title:
        # Through the titles' search index, where the LIKE read every title (cms.search.referring_contains_clause).
        where.append(referring_contains_clause(POST_TITLES, "title", selection.post_title, Comment.post_id))
    if selection.author:
        where.append(Comment.author_id.in_(select(User.id).where(User.username == selection.author.strip().lower())))
    if selection.created_from:
        where.append(Comment.created_at >= selection.created_from)
    if selection.created_before:
        where.append(Comment.created_at < selection.created_before)
    if selection.search:
        where.append(search_clause(selection.search))
    return where


def count_selected(selection: CommentSelection) -> int:
    return db.session.scalar(select(func.count(Comment.id)).where(*selection_clauses(selection))) or 0


def only_status(selection: CommentSelection) -> bool:
    """Whether the selection has no filter but (at most) a status: the status counters know its size. Post 0 is a
    filter (it matches no comment); only None and an empty text are none."""
    return not any(is_set(value) for key, value in selection.to_json().items() if key != "status")


def is_set(value) -> bool:
    """Whether a selection's field holds a value: 0 does, None and "" do not."""
    return value is not None and value != ""


def counted_size(selection: CommentSelection, counts: Mapping[str, int]) -> int:
    """The size of a selection with no filter but a status (`only_status`), from the status counters (`counts`, as
    `status_counts` reads them)."""
    return counts.get(selection.status, 0) if selection.status else sum(counts.values())


def selection_size(selection: CommentSelection) -> int:
    """How many comments the selection holds: from the counters when they know (no comment read), else counted."""
    return counted_size(selection, status_counts()) if only_status(selection) else count_selected(selection)


def count_within(selection: CommentSelection, budget: int) -> tuple[int, bool]:
    """Count the selection reading at most `budget` comments of its filters (its search tested on each row
    rather than read from the index): (matches, exact). When the filters hold more comments than the budget,
    the matches among those read are a lower bound and `exact` is False."""
    search = selection.search
    filters = selection_clauses(replace(selection, search=None))
    holds = comment_clause(search, use_index=False) if search else None
    found, examined = hits_in_first(select(Comment.id).where(*filters), holds, budget)
    return found, examined < budget


def selected_id_batches(selection: CommentSelection, size: int = BATCH) -> Iterator[list[int]]:
    """The selected comment ids in primary-key order, a batch at a time (keyset, no OFFSET, no sort)."""
    last = 0
    where = selection_clauses(selection)
    while True:
        ids = list(
            db.session.scalars(select(Comment.id).where(Comment.id > last, *where).order_by(Comment.id).limit(size))
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def id_batches(ids: list[int], size: int = BATCH) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def status_counts() -> dict[str, int]:
    """The moderation queue's tab counts: exact, and read from the counter table, not counted."""
    return comment_counts.counts()


# -- bulk moderation ---------------------------------------------------------------------------------
def moderation_values(status: str, reason: str | None, moderator: User | None) -> dict:
    """The columns a moderation decision sets. A hidden comment needs one of HIDE_REASONS; any other status
    clears the reason. The one place this rule lives, for the bulk actions and the single edit alike."""
    if status not in COMMENT_STATUSES:
        raise CommentError(_l("Unknown comment status %(status)s.", status=repr(status)))
    if status == CommentStatus.HIDDEN and reason not in HIDE_REASONS:
        raise CommentError(_l("Choose why the comment is hidden."))
    return {
        "status": status,
        "hidden_reason": reason if status == CommentStatus.HIDDEN else None,
        "moderated_by_id": getattr(moderator, "id", None),
        "moderated_at": utcnow(),
    }


def moderate_one(comment: Comment, moderator: User) -> None:
    """A moderator's edit of one comment (status and reason already set from the form), before it is saved."""
    for column, value in moderation_values(comment.status, comment.hidden_reason, moderator).items():
        setattr(comment, column, value)


def moderate(batches, status: str, moderator: User | None = None, reason: str | None = None) -> int:
    """Approve or hide comments, one UPDATE per batch of ids, audited, in one transaction. A hidden comment hidden
    again for another reason takes the new reason (it kept the first, though the moderator was told it changed)."""
    values = moderation_values(status, reason, moderator)
    changes = Comment.status != status
    if status == CommentStatus.HIDDEN:
        changes = changes | Comment.hidden_reason.is_distinct_from(reason)
    changed = 0
    for ids in batches:
        comment_counts.adjust_for_status_change(ids, status)  # counts move with the status alone
        result = db.session.execute(
            update(Comment).where(Comment.id.in_(ids), changes).values(**values),
            execution_options={"synchronize_session": False},
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    label = f"{status} ({reason})" if reason and status == CommentStatus.HIDDEN else status
    audit.record(f"bulk_{status}", "Comment", summary=f"{changed} comments {label}")
    page_cache.bump()
    db.session.commit()
    return changed


def delete_comments(batches, moderator: User | None = None) -> int:
    deleted = 0
    for ids in batches:
        comment_counts.adjust_for_delete(ids)
        result = db.session.execute(delete(Comment).where(Comment.id.in_(ids)))
        deleted += result.rowcount  # type: ignore[attr-defined]
    audit.record("bulk_delete", "Comment", summary=f"{deleted} comments deleted")
    page_cache.bump()
    db.session.commit()
    return deleted


def deactivate_authors(batches, acting_user: User) -> int:
    """Deactivate the authors of the given comments (never the acting administrator)."""
    author_ids: set[int] = set()
    for ids in batches:
        author_ids.update(db.session.scalars(select(Comment.author_id).where(Comment.id.in_(ids)).distinct()))
    author_ids.discard(acting_user.id)
    changed = 0
    for batch in id_batches(list(author_ids)):
        result = db.session.execute(
            update(User).where(User.id.in_(batch), User.active.is_(True)).values(active=False),
            execution_options={"synchronize_session": False},
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    audit.record(
        "bulk_deactivate", "User", summary=f"{changed} comment authors deactivated", changes={"ids": sorted(author_ids)}
    )
    page_cache.bump()
    db.session.commit()
    return changed


def _authors_hidden():
    """A column of a comment query: how many hidden comments the comment's author has, counted beside each row
    through the (author_id, status) index, in the statement that reads the rows (the queue's author cells)."""
    other = aliased(Comment)
    return (
        select(func.count())
        .where(other.author_id == Comment.author_id, other.status == CommentStatus.HIDDEN)
        .correlate(Comment)
        .scalar_subquery()
    )


AUTHORS_HIDDEN = _authors_hidden()
