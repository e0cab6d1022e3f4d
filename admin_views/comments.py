"""The comment queue (MODERATE): status tabs with live counts, filters that mean the same in the list,
the bulk actions and the exports, hide reasons, and exports of any size."""

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, flash, g, request
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from admin_views.base import ListCount, StaffModelView, labels_once, once_per_request, row_url
from admin_views.comment_exports import CommentExportViews
from cms import policies
from cms.comments import (
    AUTHORS_HIDDEN,
    STATUS_LABELS,
    CommentSelection,
    count_within,
    counted_size,
    deactivate_authors,
    delete_comments,
    id_batches,
    is_set,
    moderate,
    moderate_one,
    only_status,
    search_clause,
    selected_id_batches,
    selection_clauses,
    shown_hold_reason,
    status_counts,
)
from cms.exports import RowOrder
from cms.extensions import db
from cms.markup import stored_html
from cms.models import (
    COMMENT_STATUSES,
    HIDE_REASONS,
    Comment,
    CommentStatus,
    Post,
    User,
    utcnow,
)
from cms.permissions import Perm
from cms.routing import stored_int
from cms.search import comment_page_clause, comment_search_count

REASON_LABELS = {"spam": _l("spam"), "abuse": _l("abuse"), "off-topic": _l("off-topic"), "other": _l("other")}


class SelectionFilter(BaseSQLAFilter):
    """A list filter that is one field of a CommentSelection, so the list, the bulk actions and the
    exports select exactly the same comments."""

    field = ""
    label = _l("equals")

    def __init__(self, name, options=None, data_type=None):
        super().__init__(Comment.id, name, options=options, data_type=data_type)

    def clean(self, value):
        return value.strip()

    def validate(self, value):
        try:
            cleaned = self.clean(value)
        except (ValueError, OverflowError):  # a moment whose offset takes it past year 1 or 9999 in UTC
            return False
        # Post 0 is a value (it matches no comment); only an empty text is none. Taken for none, the list showed
        # "Post ID equals 0" over every comment, and "select all" reached them all.
        return (cleaned != "" if isinstance(cleaned, str) else cleaned is not None) or value == ""

    def apply(self, query, value, alias=None):
        # Flask-Admin hands apply() the value clean() returned.
        return query.filter(*selection_clauses(CommentSelection(**{self.field: value})))

    def operation(self):
        return self.label

    def contribute(self, selection: CommentSelection, raw_value: str) -> None:
        """The filter's value into `selection`. A selection holds one value per filter, so a filter given twice
        (`flt0_post_id_equals=2&flt1_post_id_equals=4`) is refused: the list would have shown the comments
        matching both, and "select all" and the exports those of the last."""
        if getattr(selection, self.field) is not None:
            abort(400, gettext("Use each comment filter once: “%(name)s %(operation)s” is there twice.",
                               name=self.name, operation=self.operation()))  # fmt: skip
        setattr(selection, self.field, self.clean(raw_value))


class StatusFilter(SelectionFilter):
    field = "status"

    def validate(self, value):
        return value in COMMENT_STATUSES


class PostFilter(SelectionFilter):
    """The comments of one post, by its id: what the post's row and edit page link to."""

    field = "post_id"

    def clean(self, value):
        return stored_int(value.strip())


class PostTitleFilter(SelectionFilter):
    field, label = "post_title", _l("contains")


class AuthorFilter(SelectionFilter):
    field = "author"


class CreatedFromFilter(SelectionFilter):
    field, label = "created_from", _l("on or after")

    def clean(self, value):
        """A moment as ISO 8601; one with an offset (`Z`, `+05:00`) is taken at that offset and kept in UTC, as
        every stored moment is (its offset was dropped: +05:00 was read as UTC, and the xlsx export failed on it)."""
        moment = datetime.fromisoformat(value.strip().replace(" ", "T"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment


class CreatedBeforeFilter(CreatedFromFilter):
    field, label = "created_before", _l("before")


def _post_link(view, context, model, name):
    post = model.post
    if post.is_live:
        href = row_url("public.post", {"locale": post.locale}, slug=post.slug)
    else:
        href = row_url("post.edit_view", id=post.id)
    return Markup(f'<a href="{escape(href)}">{escape(post.title)}</a>')  # noqa: S704  # nosec B704 (escaped)


def _author(view, context, model, name):
    author = model.author
    days = (utcnow() - author.member_since).days
    hidden = model.authors_hidden or 0
    member = once_per_request("member_for", days, lambda: _member_for(days))
    hidden_text = once_per_request("hidden_comments", hidden, lambda: _hidden_comments(hidden))
    return Markup(  # noqa: S704  # nosec B704 (every part is escaped)
        f'{escape(author.username)} <small class="text-muted">{escape(member)} · {escape(hidden_text)}</small>'
    )


def _member_for(days: int) -> str:
    return ngettext("member for %(num)d day", "member for %(num)d days", days) % {"num": days}


def _hidden_comments(hidden: int) -> str:
    return ngettext("%(num)d hidden comment", "%(num)d hidden comments", hidden) % {"num": hidden}


def _status(view, context, model, name):
    label = labels_once("comment_status", STATUS_LABELS).get(model.status, model.status)
    if model.status == CommentStatus.HIDDEN and model.hidden_reason:
        reason = model.hidden_reason
        label += f" ({labels_once('hide_reasons', REASON_LABELS).get(reason, reason)})"
    if model.status == CommentStatus.PENDING and model.held_reason:
        return Markup('{}<br><small class="text-warning">{}</small>').format(
            label, gettext("held: %(reason)s", reason=shown_hold_reason(model.held_reason))
        )
    return label


@dataclass(slots=True)
class ListedPost:
    id: int
    title: str
    slug: str
    locale: str
    is_live: bool


@dataclass(slots=True)
class ListedAuthor:
    id: int
    username: str
    member_since: datetime


@dataclass(slots=True)
class ListedComment:
    """What a row of the queue shows of a comment, its post and its author (CommentView.rows_by_id)."""

    id: int
    created_at: datetime
    status: str
    body_html: str
    held_reason: str | None
    hidden_reason: str | None
    authors_hidden: int
    post: ListedPost
    author: ListedAuthor

    @classmethod
    def of(cls, row) -> "ListedComment":
        (comment_id, created_at, status, body_html, held, hidden_reason, hidden,
         post_id, title, slug, locale, is_live, author_id, username, member_since) = row  # fmt: skip
        post = ListedPost(post_id, title, slug, locale, bool(is_live))
        author = ListedAuthor(author_id, username, member_since)
        return cls(comment_id, created_at, status, body_html, held, hidden_reason, hidden, post, author)


class CommentView(CommentExportViews, StaffModelView):
    required = Perm.MODERATE
    can_create = False
    list_template = "admin/comment_list.html"
    export_types = ["xlsx", "csv"]
    column_list = ("created_at", "status", "post", "author", "body_html")
    row_name_column = "body_html"
    column_labels = {
        "id": _l("Id"),
        "created_at": _l("Created at"),
        "status": _l("Status"),
        "hidden_reason": _l("Hidden reason"),
        "held_reason": _l("Held reason"),
        "moderated_by": _l("Moderated by"),
        "moderated_at": _l("Moderated at"),
        "body_html": _l("Comment"),
        "post": _l("Post"),
        "author": _l("Author"),
    }
    column_details_list = (
        "id", "created_at", "status", "hidden_reason", "held_reason", "moderated_by", "moderated_at", "post",
        "author", "body_html",
    )  # fmt: skip
    column_searchable_list = ("body",)  # the search itself is cms.comments.search_clause (body and author)
    column_filters = (
        StatusFilter(_l("Status"), options=[(s, STATUS_LABELS[s]) for s in COMMENT_STATUSES]),
        PostFilter(_l("Post ID")),
        PostTitleFilter(_l("Post title")),
        AuthorFilter(_l("Author")),
        CreatedFromFilter(_l("Created"), data_type="datetimepicker"),
        CreatedBeforeFilter(_l("Created"), data_type="datetimepicker"),
    )
    column_sortable_list = ("created_at", "status")
    column_default_sort = ("created_at", True)
    column_formatters = {
        "status": _status,
        "post": _post_link,
        "author": _author,
        "body_html": lambda v, c, m, p: stored_html(m.body_html),
    }
    column_formatters_detail = {
        "body_html": lambda v, c, m, p: stored_html(m.body_html),
        "status": lambda v, c, m, p: labels_once("comment_status", STATUS_LABELS).get(m.status, m.status),
        "hidden_reason": lambda v, c, m, p: (
            labels_once("hide_reasons", REASON_LABELS).get(m.hidden_reason, m.hidden_reason) if m.hidden_reason else ""
        ),
        "held_reason": lambda v, c, m, p: shown_hold_reason(m.held_reason) if m.held_reason else "",
    }
    form_columns = ("status", "hidden_reason")
    form_choices = {
        "status": [(s, STATUS_LABELS[s]) for s in COMMENT_STATUSES],
        "hidden_reason": [("", "—")] + [(r, REASON_LABELS[r]) for r in HIDE_REASONS],
    }

    # -- the selection: filters and search, one meaning everywhere --------------------------------------
    def search_clause(self, search):
        return search_clause(search)  # body terms and exact authors, as the actions and exports read it

    def common_terms_clause(self, search, cap):
        return comment_page_clause(search, cap)  # body terms decide; an author term is an exact name either way

    def _get_list_filter_args(self):
        """The list opens on the moderation queue: a bare /admin/comment/ shows the pending comments (the "All"
        tab is ?status=all, carried along by the list's links). The same address bare means the same rows to
        whatever reads the selection: the page's export links and its action form (select_all.js sends the page's
        query string) carry none. Read on the list's page only, an export of the queue held every comment, and
        "approve all matching rows" approved hidden ones too."""
        if not request.args:
            index, status_filter = self._filter_args["status_equals"]
            return [(index, str(status_filter.name), CommentStatus.PENDING.value)]
        return super()._get_list_filter_args()

    def current_selection(self) -> CommentSelection:
        args = self._get_list_extra_args()
        selection = CommentSelection(search=(args.search or "").strip() or None)
        for index, _name, value in args.filters or []:
            flt = self._filters[index]
            if isinstance(flt, SelectionFilter):
                flt.contribute(selection, value)
        return selection

    def current_order(self) -> RowOrder:
        """The list's order (its sort column and direction, else its default), for the exports to follow."""
        args = self._get_list_extra_args()
        column = self._get_column_by_idx(args.sort)
        if column is None or column[0] not in self._sortable_columns:  # the list ignores it too
            return RowOrder(*self.column_default_sort)
        return RowOrder(column[0], bool(args.sort_desc))

    def _batches(self, ids):
        if request.form.get("select_all") == "1":
            return selected_id_batches(self.current_selection())
        try:
            return id_batches([stored_int(i) for i in ids])
        except ValueError:
            abort(400, gettext("The selected rows are not valid comment ids."))

    # -- the list ------------------------------------------------------------------------------------
    def rows_by_id(self, ids: list) -> dict:
        """The queue page reads its rows as plain rows (`ListedComment`), not ORM objects: loading 20 comments with
        their posts and authors through the ORM cost twice the statement itself. Other readers get the models."""
        if not self.listing():
            return super().rows_by_id(ids)
        statement = (
            select(
                Comment.id, Comment.created_at, Comment.status, Comment.body_html, Comment.held_reason,
                Comment.hidden_reason, AUTHORS_HIDDEN, Post.id, Post.title, Post.slug, Post.locale,
                Post.is_live.label("is_live"), User.id, User.username, User.member_since,
            )
            .join(Post, Post.id == Comment.post_id)
            .join(User, User.id == Comment.author_id)
            .where(Comment.id.in_(ids))
        )  # fmt: skip
        return {row[0]: ListedComment.of(row) for row in db.session.execute(statement)}

    def _status_counts(self) -> dict[str, int]:
        if "comment_status_counts" not in g:
            g.comment_status_counts = status_counts()
        return g.comment_status_counts

    def known_count(self, filters, search, cap) -> ListCount | None:
        """With no filter but the status, the tabs' counters are the list's count; with only a search, the
        search index counts alone (no comment row is read)."""
        selection = self.current_selection()
        if only_status(selection):
            return ListCount(counted_size(selection, self._status_counts()))
        narrowed = {key for key, value in selection.to_json().items() if is_set(value) and key != "status"}
        if narrowed == {"search"} and not selection.status:
            counted = comment_search_count(selection.search, cap)
            if counted is not None:
                return ListCount(*counted)
        if cap is not None and selection.search and self.page_search_clause(selection.search) is not None:
            # A common term with other filters: counting its matches would read them all; count what the
            # filters' first `cap` comments hold instead (a lower bound when there are more).
            found, exact = count_within(selection, cap)
            return ListCount(found, exact=exact)
        return None

    def render(self, template, **kwargs):
        if template == self.list_template:
            counts = self._status_counts()
            active = self.current_selection().status
            kwargs["status_tabs"] = [
                (STATUS_LABELS[s], counts[s], self.filter_url(status_equals=s), s == active) for s in COMMENT_STATUSES
            ]
            kwargs["all_url"] = self.get_url(".index_view", status="all")
            kwargs["all_active"] = active is None
            kwargs["total_comments"] = sum(counts.values())
        return super().render(template, **kwargs)

    def on_model_change(self, form, model, is_created):
        self.enforce(moderate_one, model, current_user)

    # -- bulk actions --------------------------------------------------------------------------------
    def _flash_changed(self, changed: int) -> None:
        flash(ngettext("%(num)d comment changed.", "%(num)d comments changed.", changed) % {"num": changed}, "success")

    @action("approve", _l("Approve"), _l("Approve the selected comments?"))
    def action_approve(self, ids):
        self._flash_changed(moderate(self._batches(ids), CommentStatus.APPROVED, current_user))

    def _hide(self, ids, reason):
        self._flash_changed(moderate(self._batches(ids), CommentStatus.HIDDEN, current_user, reason))

    @action("hide_spam", _l("Hide as spam"), _l("Hide the selected comments as spam?"))
    def action_hide_spam(self, ids):
        self._hide(ids, "spam")

    @action("hide_abuse", _l("Hide as abuse"), _l("Hide the selected comments as abuse?"))
    def action_hide_abuse(self, ids):
        self._hide(ids, "abuse")

    @action("hide_off_topic", _l("Hide as off-topic"), _l("Hide the selected comments as off-topic?"))
    def action_hide_off_topic(self, ids):
        self._hide(ids, "off-topic")

    @action("hide_other", _l("Hide (other reason)"), _l("Hide the selected comments?"))
    def action_hide_other(self, ids):
        self._hide(ids, "other")

    @action("delete", _l("Delete"), _l("Delete the selected comments for good?"))
    def action_delete(self, ids):
        deleted = delete_comments(self._batches(ids), current_user)
        flash(ngettext("%(num)d comment deleted.", "%(num)d comments deleted.", deleted) % {"num": deleted}, "success")

    @action(
        "deactivate_authors",
        _l("Deactivate their authors"),
        _l("Deactivate the accounts of the selected comments' authors? They will not be able to sign in."),
    )
    def action_deactivate_authors(self, ids):
        changed = deactivate_authors(self._batches(ids), current_user)
        flash(ngettext("%(num)d account deactivated.", "%(num)d accounts deactivated.", changed) % {"num": changed})

    def is_action_allowed(self, name):
        if name == "deactivate_authors" and not policies.comments.may_deactivate_authors(current_user):
            return False
        return super().is_action_allowed(name)
