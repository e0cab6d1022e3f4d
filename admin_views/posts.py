"""Posts in the staff console: writers see their own posts, publishers see and publish all; translations
inline, live preview, revisions with diff and restore, and no silently lost edits."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from flask import flash, g, request
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEmpty, FilterLike
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup, escape
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, SelectField
from wtforms.validators import Optional

from admin_views.base import (
    ListCount,
    ReplacingFilter,
    StaffModelView,
    body_html_formatter,
    labels_once,
    once_per_request,
    replace_filters,
    row_url,
)
from admin_views.post_revisions import PostRevisionViews
from cms import policies, post_counts
from cms.extensions import db
from cms.forms import StoredYear
from cms.locale import language_name, supported_locales
from cms.models import Post, PostStatus, PostTranslation, User
from cms.permissions import Perm
from cms.posts import (
    EditConflict,
    PostError,
    change_post_status,
    check_delete,
    check_version,
    conflict_after_failed_save,
    keep_conflicting_text,
    missing_translation,
    prepare_post,
    readable_in,
    translation_state,
)
from cms.search import ACCOUNTS, POST_TITLES, contains_clause, post_title_clause

STATUS_LABELS = {
    PostStatus.DRAFT: _l("Draft"),
    PostStatus.REVIEW: _l("In review"),
    PostStatus.PUBLISHED: _l("Published"),
    PostStatus.ARCHIVED: _l("Archived"),
}
TRANSLATION_BADGES = {
    "current": ("badge-success", _l("up to date")),
    "outdated": ("badge-warning", _l("out of date")),
    "missing": ("badge-light", _l("missing")),
    "original": ("badge-primary", _l("original")),
}
BADGE_LABELS = {state: label for state, (_, label) in TRANSLATION_BADGES.items()}
COMMENTS_LABEL = {"comments": _l("Comments")}


class VersionField(HiddenField):
    """The version the editor opened; compared on save, never written to the post (SQLAlchemy counts)."""

    def populate_obj(self, obj, name):
        pass


def locale_choices():
    return [(code, language_name(code)) for code in supported_locales()]


class AuthorNameContains(ReplacingFilter, FilterLike):
    """Posts whose author's username contains the text, the accounts found through their search index
    (cms.search.contains_clause): the LIKE over every username read 205,014 rows, 597 ms, on the benchmark's
    50,000 accounts. It keeps the place, name and URL argument of Flask-Admin's own filter (`like`)."""

    def apply(self, query, value, alias=None):
        # On the author Flask-Admin joins for this filter (aliased): the posts of the accounts the index finds, or
        # (a term most accounts hold) each author's name compared as the list's order reaches their posts.
        return query.filter(contains_clause(ACCOUNTS, "username", value, self.get_column(alias), Post.author_id))


class AuthorNameEmpty(ReplacingFilter, FilterEmpty):
    """Flask-Admin's "author's username is empty": every post has an author (a required foreign key) and every
    account a username (a required column), so "empty" holds for no post and "not empty" for every one, without
    reading them (as a test of each post's author through the join, it read 205,014 rows, 467 ms, to find none)."""

    def apply(self, query, value, alias=None):
        return query.filter(sa.false() if value == "1" else sa.true())


AUTHOR_NAME_FILTERS = {FilterLike: AuthorNameContains, FilterEmpty: AuthorNameEmpty}


class MissingTranslationFilter(BaseSQLAFilter):
    """Posts with no translation into the chosen language."""

    def apply(self, query, value, alias=None):
        return query.filter(missing_translation(value))

    def operation(self):
        return _l("missing in")

    def validate(self, value):
        return value in supported_locales()


class ReadableInFilter(MissingTranslationFilter):
    """Posts written in the chosen language or translated into it (the editorial calendar's language)."""

    def apply(self, query, value, alias=None):
        return query.filter(readable_in(value))

    def operation(self):
        return _l("readable in")


def _typed_translations(form, saved_post) -> list[tuple[str, str, str]]:
    """The translations a conflicting save carried that differ from the saved ones, (language, title, text): the
    conflict page shows the saved translations in the form, and these beside them, so none typed is lost."""
    saved = {translation.locale: (translation.title, translation.body) for translation in saved_post.translations}
    typed = []
    for entry in getattr(form, "translations", None) or []:
        fields = entry.form
        locale, title, body = fields.locale.data, fields.title.data or "", fields.body.data or ""
        if (title.strip() or body.strip()) and saved.get(locale) != (title, body):
            typed.append((locale or "", title, body))
    return typed


def _format_status(view, context, model, name):
    if model.is_scheduled:
        return _l("Scheduled")
    return labels_once("post_status", STATUS_LABELS).get(model.status, model.status)


def _format_translations(view, context, model, name):
    labels = labels_once("badges", BADGE_LABELS)
    badges = []
    for locale, state in translation_state(model, supported_locales()).items():
        css, code, title = TRANSLATION_BADGES[state][0], escape(locale), escape(labels[state])
        name = escape(_language(locale))
        badges.append(
            f'<span class="badge {css}" title="{title}" data-locale="{code}" data-state="{state}">{name}</span>'
        )
    return Markup(" ".join(badges))  # noqa: S704 (every value above is escaped or one of ours)  # nosec B704


def _language(code: str) -> str:
    """The language's name in the reader's language, looked up once per request (the list shows it on every row)."""
    return once_per_request("language_names", code, lambda: language_name(code))


def _format_locale(view, context, model, name):
    return _language(model.locale)


def _format_comments(view, context, model, name):
    url = comments_url(model.id)
    if url is None:
        return ""
    label = labels_once("comments", COMMENTS_LABEL)["comments"]
    return Markup(f'<a href="{escape(url)}">{escape(label)}</a>')  # noqa: S704  # nosec B704


def comments_url(post_id: int) -> str | None:
    """The moderation queue filtered to one post's comments, for those who moderate (the rule asked once per
    request, the URL built once per request: `row_url`); else None. A post's row and its edit page link with it."""
    if "may_moderate" not in g:
        g.may_moderate = policies.comments.may_moderate(current_user)
    return row_url("comment.index_view", flt0_post_id_equals=post_id) if g.may_moderate else None


@dataclass(slots=True)
class ListedTranslation:
    locale: str
    source_changed_at: datetime | None


@dataclass(slots=True)
class ListedAuthor:
    id: int
    username: str

    def __str__(self) -> str:
        return self.username


@dataclass(slots=True)
class ListedPost:
    """What a row of the post list shows of a post, its author and its translations (PostView.rows_by_id)."""

    id: int
    title: str
    status: str
    locale: str
    published_at: datetime | None
    updated_at: datetime
    content_changed_at: datetime
    author: ListedAuthor
    translations: list[ListedTranslation] = field(default_factory=list)

    # The post's own rule, read from the model's hybrid property (its Python side takes any object with a status
    # and a publication time).
    is_scheduled = property(cast(hybrid_property, sa.inspect(Post).all_orm_descriptors["is_scheduled"]).fget)


class PostView(PostRevisionViews, StaffModelView):
    required = Perm.WRITE
    create_template = "admin/post_create.html"
    edit_template = "admin/post_edit.html"
    column_list = ("title", "author", "status", "translations", "published_at", "updated_at", "comments")
    column_searchable_list = ("title", "slug")
    searched = POST_TITLES
    column_filters = (
        "status",
        "author.username",
        "locale",
        MissingTranslationFilter(Post.id, _l("Translation"), options=locale_choices),
        ReadableInFilter(Post.id, _l("Language"), options=locale_choices),
        "published_at",
        "created_at",
        "updated_at",
    )
    few_values_columns = ("status", "locale")
    column_sortable_list = ("title", ("author", "author.username"), "status", "published_at", "updated_at")
    column_default_sort = ("updated_at", True)
    column_labels = {
        "title": _l("Title"),
        "author": _l("Author"),
        "status": _l("Status"),
        "published_at": _l("Published at"),
        "updated_at": _l("Updated at"),
        "locale": _l("Language"),
        "translations": _l("Languages"),
        "comments": _l("Comments"),
    }
    column_details_list = (
        "title", "slug", "locale", "author", "status", "published_at", "featured_image", "created_at", "updated_at",
        "body_html",
    )  # fmt: skip
    column_export_list = ("id", "title", "slug", "locale", "author", "status", "published_at", "created_at")
    column_formatters = {
        "status": _format_status,
        "translations": _format_translations,
        "comments": _format_comments,
        "locale": _format_locale,
    }
    column_formatters_detail = {"body_html": body_html_formatter, "locale": _format_locale}
    form_columns = (
        "title", "slug", "locale", "body", "status", "published_at", "featured_image", "author", "translations",
        "version",
    )  # fmt: skip
    form_choices = {"status": [(s.value, STATUS_LABELS[s]) for s in PostStatus]}
    form_overrides = {"locale": SelectField}
    form_args = {
        # Flask-Admin also adds InputRequired to a NOT NULL column; Optional() runs first and stops it on the server,
        # and no `required` attribute may stop the browser: an empty slug is made from the title.
        "slug": {
            "validators": [Optional()],
            "description": _l("Leave empty to make one from the title."),
            "render_kw": {"required": False},
        },
        "locale": {"choices": locale_choices, "label": _l("Original language")},
        "published_at": {
            "description": _l("A time in the future schedules the post (UTC)."),
            "validators": [StoredYear()],
        },
    }
    form_extra_fields = {"version": VersionField()}
    form_widget_args = {"body": {"rows": 18}}
    form_ajax_refs = {
        # Authors are found by username or display name: a look-up never matches or shows email addresses.
        "author": {"fields": ("username", "name"), "page_size": 10, "placeholder": _l("Type a username or name")},
        "featured_image": {"fields": ("original_name",), "page_size": 10, "placeholder": _l("Type an image's name")},
    }
    inline_models = [
        (
            PostTranslation,
            {
                "form_columns": ("id", "locale", "title", "body"),
                "form_overrides": {"locale": SelectField},
                "form_args": {"locale": {"choices": locale_choices}},
                "form_widget_args": {"body": {"rows": 10}},
            },
        )
    ]

    def scaffold_filters(self, name):
        filters = super().scaffold_filters(name)
        if name != "author.username" or not filters:
            return filters
        return replace_filters(filters, AUTHOR_NAME_FILTERS)

    def search_clause(self, search):
        return post_title_clause(search)  # each term in the title or slug

    def scope(self, query):
        return query.filter(policies.posts.visible_clause(current_user))

    def sees_every_row(self) -> bool:
        return policies.posts.may_publish(current_user)

    def known_count(self, filters, search, cap) -> ListCount | None:
        """Every post, or the posts of one status, for one who sees every post: the stored per-status counts
        (cms/post_counts.py), exact, with no post read."""
        if search or not self.sees_every_row():
            return super().known_count(filters, search, cap)
        if not filters:
            return ListCount(sum(post_counts.counts().values()))
        status_index, status_filter = self._filter_args["status_equals"]
        if len(filters) == 1 and filters[0][0] == status_index:
            status = status_filter.clean(filters[0][2])
            counts = post_counts.counts()
            if status in counts:
                return ListCount(counts[status])
        return None

    def page_ids(self, query, key, page: int, size: int, order: tuple, narrowed: bool) -> list:
        """Sorted by author with no filter or search, the page's posts are found along the authors' usernames: no
        index of the posts holds the authors' order, so the database read and sorted every post with its author
        (273,983 rows, 80-150 ms on the benchmark data set). Here the accounts are walked in their username index,
        each one's posts read from the author index (an author's posts come together), up to the page's last row;
        the last author's posts are then read whole, and each author's posts put in id order as the list orders
        them (username, then id, both the same way): about as many rows as the page and those before it."""
        sort_column, descending = order
        if sort_column != "author" or narrowed or not size:
            return super().page_ids(query, key, page, size, order, narrowed)
        posts_by_account = db.session.query(Post.id, Post.author_id).select_from(User).join(User.posts)
        walk = (
            self.scope(posts_by_account)
            .prefix_with("STRAIGHT_JOIN", dialect="mysql")  # the accounts first, in their username index
            .order_by(User.username.desc() if descending else User.username)
            .limit((page + 1) * size)
            .all()
        )
        if not walk:
            return []
        last = walk[-1].author_id
        by_author: dict[int, list[int]] = {}
        for post_id, author_id in walk:
            if author_id != last:
                by_author.setdefault(author_id, []).append(post_id)
        last_posts = self.scope(db.session.query(Post.id)).filter(Post.author_id == last)
        by_author[last] = [post_id for (post_id,) in last_posts]
        ids = [post_id for posts in by_author.values() for post_id in sorted(posts, reverse=descending)]
        return ids[page * size : (page + 1) * size]

    def may_look_up(self, name: str) -> bool:
        return name != "author" or policies.posts.may_change_author(current_user)

    def rows_by_id(self, ids: list) -> dict:
        """The list page reads its rows as plain rows (`ListedPost`), not ORM objects: loading 20 posts with their
        authors and translations through the ORM cost 3.2 ms, the same columns as rows 2.0 ms. Within `scope` like
        every read of the view; other readers (the csv export) get the models."""
        if not self.listing():
            return super().rows_by_id(ids)
        statement = self.scope(
            db.session.query(
                Post.id, Post.title, Post.status, Post.locale, Post.published_at, Post.updated_at,
                Post.content_changed_at, User.id, User.username, PostTranslation.locale,
                PostTranslation.source_changed_at,
            )
            .join(User, User.id == Post.author_id)
            .outerjoin(PostTranslation, PostTranslation.post_id == Post.id)
            .filter(Post.id.in_(ids))
            .order_by(PostTranslation.locale)
        )  # fmt: skip
        rows: dict[int, ListedPost] = {}
        for (post_id, title, status, locale, published_at, updated_at, changed_at, author_id, username,
             translated_into, reviewed_at) in statement:  # fmt: skip
            post = rows.get(post_id)
            if post is None:
                author = ListedAuthor(author_id, username)
                post = rows[post_id] = ListedPost(
                    post_id, title, status, locale, published_at, updated_at, changed_at, author
                )
            if translated_into is not None:
                post.translations.append(ListedTranslation(translated_into, reviewed_at))
        return rows

    def adjust_form(self, form, obj=None):
        if not policies.posts.may_change_author(current_user):
            del form.author
        allowed = policies.posts.statuses_for(current_user, obj.status if obj is not None else None)
        form.status.choices = [choice for choice in form.status.choices if choice[0] in allowed]
        if obj is not None and request.method == "GET":
            form.version.data = obj.version
        if obj is None and request.method == "GET":
            form.locale.data = supported_locales()[0] if not form.locale.data else form.locale.data
            if "author" in form and form.author.data is None:
                form.author.data = current_user._get_current_object()  # the writer, unless an editor picks another
        return form

    def on_model_change(self, form, model, is_created):
        if is_created and model.author_id is None and model.author is None:
            model.author = current_user._get_current_object()
        old_status = None if is_created else form.status.object_data
        self.enforce(prepare_post, model, current_user, old_status, supported_locales())

    def on_model_delete(self, model):
        self.enforce(check_delete, current_user, model)

    # -- no lost edits ------------------------------------------------------------------------------
    def update_model(self, form, model):
        # Kept for handle_view_exception: a save can also lose the race at the UPDATE itself.
        g.post_edit = EditConflict(model, model.version, form.title.data or "", form.body.data or "")
        g.post_form = form
        try:
            check_version(model, form.version.data, g.post_edit.your_title, g.post_edit.your_body)
        except EditConflict as conflict:
            self._show_conflict(conflict, form)
            return False
        except PostError as exc:
            flash(str(exc), "error")
            return False
        return super().update_model(form, model)

    def handle_view_exception(self, exc):
        edit = g.get("post_edit")
        if isinstance(exc, StaleDataError) and edit is not None:
            conflict = conflict_after_failed_save(edit.post.id, edit.your_title, edit.your_body)
            if conflict is not None:
                self._show_conflict(conflict, g.post_form)
                return True
        return super().handle_view_exception(exc)

    def _show_conflict(self, conflict: EditConflict, form) -> None:
        """The form again, with this editor's title and text over the post as it is saved now. Every other field
        (status, dates, translations…) shows the saved value: the form as submitted carried what the editor had
        opened, and saving the conflict page again undid the other person's changes to those fields unseen."""
        keep_conflicting_text(conflict, current_user)
        g.post_conflict = conflict
        g.typed_translations = _typed_translations(form, conflict.post)
        yours = form.title.data, form.body.data
        form.process(formdata=None, obj=conflict.post)
        form.title.data, form.body.data = yours
        form.version.data = conflict.their_version  # saving again, after review, is a deliberate overwrite
        flash(gettext("This post was changed by someone else after you opened it. Your text was kept."), "error")

    def render(self, template, **kwargs):
        kwargs.setdefault("conflict", g.get("post_conflict"))
        kwargs.setdefault("typed_translations", g.get("typed_translations", []))
        kwargs.setdefault("comments_url", comments_url)
        return super().render(template, **kwargs)

    # -- bulk actions -------------------------------------------------------------------------------
    def _bulk_status(self, ids, status: PostStatus) -> None:
        changed, refused = change_post_status(current_user, self.selected_query(ids).all(), status)
        flash(ngettext("%(num)d post changed.", "%(num)d posts changed.", changed) % {"num": changed}, "success")
        if refused:
            flash(
                ngettext(
                    "%(num)d post was left as it was: you may not make that change.",
                    "%(num)d posts were left as they were: you may not make that change.",
                    refused,
                )
                % {"num": refused},
                "error",
            )

    @action(PostStatus.REVIEW.value, _l("Move to review"), _l("Move the selected posts to review?"))
    def action_review(self, ids):
        self._bulk_status(ids, PostStatus.REVIEW)

    @action("publish", _l("Publish"), _l("Publish the selected posts?"))
    def action_publish(self, ids):
        self._bulk_status(ids, PostStatus.PUBLISHED)

    @action("archive", _l("Archive"), _l("Archive the selected posts?"))
    def action_archive(self, ids):
        self._bulk_status(ids, PostStatus.ARCHIVED)

    def is_action_allowed(self, name):
        if name in ("publish", "archive") and not policies.posts.may_publish(current_user):
            return False
        return super().is_action_allowed(name)
