"""The post editor's companions: the live preview, the revision history, a diff between two revisions and
restoring one (itself a new revision)."""

import difflib

from flask import abort, flash, jsonify, redirect, request
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup

from cms.markup import render_markdown
from cms.posts import PostError, restore_revision
from cms.routing import stored_int

REVISION_KINDS = {"save": _l("Saved"), "restore": _l("Restored"), "conflict": _l("Kept from a conflict")}
MAX_PREVIEW_LENGTH = 500_000


class PostRevisionViews:
    """Mixed into PostView, whose `get_one` keeps every page within the user's posts."""

    @expose("/preview/", methods=("POST",))
    def preview_view(self):
        return jsonify(html=render_markdown(request.form.get("body", "")[:MAX_PREVIEW_LENGTH]))

    @expose("/revisions/")
    def revisions_view(self):
        post = self.get_one(request.args.get("id", ""))
        return self.render("admin/post_revisions.html", post=post, revisions=post.revisions, kind_labels=REVISION_KINDS)

    @expose("/diff/")
    def diff_view(self):
        post = self.get_one(request.args.get("id", ""))
        by_id = {revision.id: revision for revision in post.revisions}
        older = by_id.get(request.args.get("a", type=int))
        newer = by_id.get(request.args.get("b", type=int))
        if older is None or newer is None:
            abort(404, gettext("Choose two revisions of this post to compare."))
        if older.id > newer.id:
            older, newer = newer, older
        table = difflib.HtmlDiff(wrapcolumn=90).make_table(
            older.body.splitlines(), newer.body.splitlines(), str(older.id), str(newer.id), context=True
        )
        return self.render(
            "admin/post_diff.html",
            post=post,
            older=older,
            newer=newer,
            title_changed=older.title != newer.title,
            diff_table=Markup(table),  # noqa: S704 (difflib escapes the compared text)  # nosec B704
        )

    @expose("/restore/", methods=("POST",))
    def restore_view(self):
        post = self.get_one(request.form.get("id", ""))
        try:
            restore_revision(current_user, post, request.form.get("revision", type=stored_int) or 0)
        except PostError as exc:
            abort(404, str(exc))
        flash(gettext("The revision was restored. The text it replaced is kept in the history."), "success")
        return redirect(self.get_url(".edit_view", id=post.id))
