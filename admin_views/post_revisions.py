"""The post editor's companions: the live preview, the revision history, a diff between two revisions and
restoring one (itself a new revision)."""

import difflib

from flask import abort, flash, jsonify, redirect, request
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup, escape

from cms.domain import DomainError
from cms.markup import MarkupError, render_markdown
from cms.posts import RevisionNotFound, restore_revision
from cms.routing import stored_int

REVISION_KINDS = {"save": _l("Saved"), "restore": _l("Restored"), "conflict": _l("Kept from a conflict")}
MAX_PREVIEW_LENGTH = 500_000


# difflib's side-by-side table compares the lines of a replaced block with each other, and from 200 lines on takes
# blank lines for noise: a rewritten article of 110 paragraphs made one replaced block and took 111 s of a worker.
# It is used while each replaced block is at most DIFF_PAIRS pairs of lines and the texts under difflib's 200 lines;
# past that, each changed line is shown whole, removed on the left and added on the right.
DIFF_PAIRS = 400
DIFFLIB_LINES = 199
# difflib also compares the characters of each pair of lines, and wraps each shown line by recursing once per 90
# characters: a paragraph of 90,000 characters on one line (a pasted article, an inline image) was a RecursionError
# (a 500), and a replaced block of 20 such lines of 60 KB took 6.7 s. Texts with a longer line, or a replaced block
# of more characters, are shown as above.
DIFF_LINE_CHARS = 5_000
DIFF_BLOCK_CHARS = 20_000


def diff_table(old: list[str], new: list[str], old_name: str, new_name: str) -> str:
    # Blank lines anchor the blocks (difflib's autojunk would drop them), up to texts where looking them up costs.
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=max(len(old), len(new)) > DIFFLIB_LINES * 2)
    blocks = matcher.get_opcodes()
    replaced = [(old[i1:i2], new[j1:j2]) for kind, i1, i2, j1, j2 in blocks if kind == "replace"]
    largest = max((len(a) * len(b) for a, b in replaced), default=0)
    widest = max((sum(map(len, a)) + sum(map(len, b)) for a, b in replaced), default=0)
    longest = max(map(len, [*old, *new]), default=0)
    if (
        largest <= DIFF_PAIRS
        and max(len(old), len(new)) <= DIFFLIB_LINES
        and longest <= DIFF_LINE_CHARS
        and widest <= DIFF_BLOCK_CHARS
    ):
        return difflib.HtmlDiff(wrapcolumn=90).make_table(old, new, old_name, new_name, context=True)
    rows = []
    for kind, i1, i2, j1, j2 in blocks:
        for n in range(max(i2 - i1, j2 - j1)) if kind != "equal" else ():
            removed = _diff_cell(old, i1 + n, i2, "diff_sub")
            rows.append(f"<tr>{removed}{_diff_cell(new, j1 + n, j2, 'diff_add')}</tr>")
    head = f'<thead><tr><th colspan="2">{escape(old_name)}</th><th colspan="2">{escape(new_name)}</th></tr></thead>'
    return f'<table class="diff" rules="groups">{head}<tbody>{"".join(rows)}</tbody></table>'


def _diff_cell(lines: list[str], index: int, end: int, css: str) -> str:
    if index >= end:
        return '<td class="diff_next"></td><td></td>'
    text = escape(lines[index])
    return f'<td class="diff_next">{index + 1}</td><td nowrap="nowrap"><span class="{css}">{text}</span></td>'


class PostRevisionViews:
    """Mixed into PostView, whose `get_one` keeps every page within the user's posts."""

    @expose("/preview/", methods=("POST",))
    def preview_view(self):
        try:
            return jsonify(html=render_markdown(request.form.get("body", "")[:MAX_PREVIEW_LENGTH]))
        except MarkupError as exc:
            return jsonify(error=str(exc)), 400

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
        table = diff_table(older.body.splitlines(), newer.body.splitlines(), str(older.id), str(newer.id))
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
            restore_revision(
                current_user, post, request.form.get("revision", type=stored_int) or 0, request.form.get("version")
            )
        except RevisionNotFound as exc:
            abort(404, str(exc))
        except DomainError as exc:  # refused (no title, text that cannot be shown, a save meanwhile): nothing changed
            flash(str(exc), "error")
            return redirect(self.get_url(".revisions_view", id=post.id))
        flash(gettext("The revision was restored. The text it replaced is kept in the history."), "success")
        return redirect(self.get_url(".edit_view", id=post.id))
