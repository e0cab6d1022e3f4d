"""Posts in the staff console: writers see their own posts, publishers see and publish all."""

from flask import flash
from flask_admin.actions import action
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_security import current_user
from wtforms.validators import Optional, ValidationError

from admin_views.base import StaffModelView, body_html_formatter
from cms.models import POST_STATUSES, Post
from cms.permissions import Perm, can
from cms.posts import PUBLISHER_STATUSES, PostError, change_post_status, prepare_post

STATUS_LABELS = {
    "draft": _l("Draft"),
    "review": _l("In review"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}


class PostView(StaffModelView):
    required = Perm.WRITE
    column_list = ("title", "author", "status", "published_at", "updated_at")
    column_searchable_list = ("title", "slug", "body")
    column_filters = ("status", "author.username", "published_at", "created_at", "updated_at")
    column_sortable_list = ("title", ("author", "author.username"), "status", "published_at", "updated_at")
    column_default_sort = ("updated_at", True)
    column_details_list = ("title", "slug", "author", "status", "published_at", "created_at", "updated_at", "body_html")
    column_export_list = ("id", "title", "slug", "author", "status", "published_at", "created_at", "updated_at")
    column_formatters = {"status": lambda v, c, m, p: STATUS_LABELS.get(m.status, m.status)}
    column_formatters_detail = {"body_html": body_html_formatter}
    form_columns = ("title", "slug", "body", "status", "published_at", "author")
    form_choices = {"status": [(s, STATUS_LABELS[s]) for s in POST_STATUSES]}
    form_args = {"slug": {"validators": [Optional()], "description": _l("Leave empty to make one from the title.")}}
    form_widget_args = {"body": {"rows": 18}}

    def scope(self, query):
        if can(Perm.PUBLISH):
            return query
        return query.filter(Post.author_id == current_user.id)

    def adjust_form(self, form, obj=None):
        if not can(Perm.PUBLISH):
            del form.author
            current = obj.status if obj is not None else None
            form.status.choices = [
                choice for choice in form.status.choices if choice[0] not in PUBLISHER_STATUSES or choice[0] == current
            ]
        return form

    def on_model_change(self, form, model, is_created):
        if is_created and model.author_id is None and model.author is None:
            model.author = current_user._get_current_object()
        old_status = form.status.object_data if not is_created else None
        try:
            prepare_post(model, current_user, old_status)
        except PostError as exc:
            raise ValidationError(str(exc)) from None

    def _bulk_status(self, ids, status: str) -> None:
        posts = get_query_for_ids(self.get_query(), self.model, ids).all()
        changed, refused = change_post_status(current_user, posts, status)
        flash(
            ngettext("%(num)d post changed.", "%(num)d posts changed.", changed) % {"num": changed},
            "success",
        )
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

    @action("review", _l("Submit for review"), _l("Submit the selected posts for review?"))
    def action_review(self, ids):
        self._bulk_status(ids, "review")

    @action("publish", _l("Publish"), _l("Publish the selected posts?"))
    def action_publish(self, ids):
        self._bulk_status(ids, "published")

    @action("archive", _l("Archive"), _l("Archive the selected posts?"))
    def action_archive(self, ids):
        self._bulk_status(ids, "archived")

    def is_action_allowed(self, name):
        if name in ("publish", "archive") and not can(Perm.PUBLISH):
            return False
        return super().is_action_allowed(name)
