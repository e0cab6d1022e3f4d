"""The translator workspace (TRANSLATE or ADMIN) at /admin/translations/: catalog overview, entries with
in-place editing, uploads and downloads, new languages, which posts lack translations, and each post's
translation beside its original (/admin/translations/content/<post_id>/<locale>/)."""

import io
import json

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext, ngettext
from flask_security import current_user

from admin_views.base import deny_access, staff_may
from cms import catalogs, policies, post_translations
from cms.catalog_editor import STATES, CatalogEditor, CatalogError, entry_key, entry_state, entry_value, plural_count
from cms.catalogs import CatalogForbidden
from cms.locale import supported_locales
from cms.permissions import Perm
from cms.post_translations import (
    OriginalChanged,
    TranslationConflict,
    TranslationError,
    TranslationForbidden,
    TranslationNotFound,
)
from cms.posts import untranslated_posts
from cms.routing import LARGEST_INTEGER

PAGE_SIZE = 25
UNTRANSLATED_PER_PAGE = 50  # posts needing translation a page
MAX_UPLOAD = 5 * 1024 * 1024


class TranslationsView(BaseView):
    def is_accessible(self) -> bool:
        return staff_may(Perm.TRANSLATE)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _editor(self, locale: str) -> CatalogEditor:
        try:
            return catalogs.editor_for(locale)
        except CatalogError:
            abort(404)

    @expose("/")
    def index(self):
        return self.render(
            "admin/translations_index.html",
            catalogs=catalogs.overview(),
            may_add=policies.catalogs.may_add_language(current_user),
        )

    @expose("/<locale>/")
    def catalog(self, locale):
        return self._render_catalog(self._editor(locale))

    def _render_catalog(self, editor: CatalogEditor, failed: dict | None = None, status: int = 200):
        state = request.args.get("state", "all")
        if state not in STATES:
            if not failed:
                abort(404)
            state = "all"  # a refused save's page shows what was typed whatever its address said
        search = request.args.get("q", "")[:200]
        page = request.args.get("page", 1, type=int)
        found = editor.find(state, search)
        if failed:  # show the refused entry, with what was typed, whatever page it is on
            found = [e for e in editor.live_entries() if entry_key(e) in failed]
            page = 1
        pages = max(1, -(-len(found) // PAGE_SIZE))
        if page < 1 or page > pages:
            abort(404)
        catalog = editor.load()
        entries = [
            {"entry": e, "key": entry_key(e), "state": entry_state(e), "value": entry_value(e)}
            for e in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        ]
        return self.render(
            "admin/translations_catalog.html",
            editor=editor,
            stats=editor.stats(),
            entries=entries,
            state=state,
            search=search,
            page=page,
            pages=pages,
            nplurals=plural_count(catalog),
            failed=failed or {},
        ), status

    @expose("/<locale>/save", methods=("POST",))
    def save(self, locale):
        editor = self._editor(locale)
        key = request.form.get("key", "")
        try:
            original = json.loads(request.form.get("original", ""))
        except (ValueError, RecursionError):  # RecursionError: brackets nested past the parser's depth
            abort(400, gettext("The form was incomplete; reload the page."))
        forms = {name[5:]: value for name, value in request.form.items() if name.startswith("form_")}
        fuzzy = request.form.get("fuzzy") == "y"
        try:
            result = catalogs.save_translation(current_user, locale, key, original, forms, fuzzy)
        except CatalogError as exc:
            result = catalogs.SaveResult(False, [str(exc)])
        if not result.ok:
            failed = {key: {"forms": forms, "fuzzy": fuzzy, "errors": result.errors, "conflict": result.conflict}}
            return self._render_catalog(editor, failed, 409 if result.conflict else 400)
        flash(gettext("Saved. Readers see the new text on their next page."), "success")
        args = {k: v for k, v in request.args.items() if k in ("state", "q", "page")}
        return redirect(url_for(".catalog", locale=locale, **args) + f"#entry-{key}")

    @expose("/<locale>/download")
    def download(self, locale):
        self._editor(locale)
        data = io.BytesIO(catalogs.export_po(locale).encode("utf-8"))
        return send_file(data, as_attachment=True, download_name=f"{locale}.po", mimetype="text/x-gettext")

    @expose("/<locale>/upload", methods=("POST",))
    def upload(self, locale):
        editor = self._editor(locale)
        upload = request.files.get("file")
        if not upload or not upload.filename:
            return self._upload_error(editor, gettext("Choose a .po file to upload."))
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return self._upload_error(editor, gettext("The file is larger than 5 MB."))
        try:
            report, token = catalogs.preview_upload(current_user, locale, data)
        except CatalogError as exc:
            return self._upload_error(editor, str(exc))
        return self.render("admin/translations_upload.html", editor=editor, report=report, token=token)

    def _upload_error(self, editor, message):
        return self.render("admin/translations_upload.html", editor=editor, report=None, token=None, error=message), 400

    @expose("/<locale>/upload/apply", methods=("POST",))
    def apply_upload(self, locale):
        self._editor(locale)
        try:
            applied = catalogs.apply_upload(current_user, locale, request.form.get("token", ""))
        except CatalogError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".catalog", locale=locale))
        flash(ngettext("%(num)d message updated.", "%(num)d messages updated.", applied) % {"num": applied}, "success")
        return redirect(url_for(".catalog", locale=locale))

    @expose("/add", methods=("POST",))
    def add(self):
        try:
            code = catalogs.add_language(current_user, request.form.get("locale", ""))
        except CatalogForbidden:
            abort(403)
        except CatalogError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        if code not in supported_locales():
            flash(gettext("Readers see %(code)s once it is added to CMS_LOCALES.", code=code), "info")
        flash(gettext("The catalog for %(code)s was created.", code=code), "success")
        return redirect(url_for(".catalog", locale=code))

    @expose("/content/")
    def content(self):
        page = request.args.get("page", 1, type=int)
        if page < 1 or page * UNTRANSLATED_PER_PAGE > LARGEST_INTEGER:  # past what the database's offset can hold
            abort(404)
        languages = post_translations.working_languages(current_user)
        pagination, rows = untranslated_posts(languages, page=page, per_page=UNTRANSLATED_PER_PAGE)
        return self.render(
            "admin/translations_content.html",
            rows=rows,
            locales=languages,
            pagination=pagination,
            may_edit=lambda post: policies.posts.may_edit(current_user, post),
        )

    @expose("/content/<int:post_id>/<locale>/", methods=("GET", "POST"))
    def post_workspace(self, post_id, locale):
        """The original and its translation into `locale` side by side; POST saves, and marks current."""
        typed = {
            "title": request.form.get("title", ""),
            "body": request.form.get("body", ""),
            "version": request.form.get("version", ""),
            "original": request.form.get("original", ""),
        }
        try:
            workspace = post_translations.open_workspace(current_user, post_id, locale)
        except TranslationNotFound:
            if request.method == "POST" and (typed["title"].strip() or typed["body"].strip()):
                # Unpublished or deleted while the translator typed: what they typed is shown back, not lost.
                return self.render("admin/translation_gone.html", typed=typed), 409
            abort(404)
        except TranslationForbidden as exc:
            abort(403, str(exc))
        if request.method == "GET":
            return self._render_workspace(workspace)
        current = request.form.get("action") == "current"
        try:
            post_translations.save_translation(
                current_user, post_id, locale, title=typed["title"], body=typed["body"], version=typed["version"],
                original_seen=typed["original"], current=current,
            )  # fmt: skip
        except TranslationConflict as conflict:
            workspace = post_translations.open_workspace(current_user, post_id, locale)
            # Saving again, after comparing, is a deliberate overwrite of theirs.
            typed["version"] = str(conflict.theirs.version) if conflict.theirs is not None else "0"
            return self._render_workspace(workspace, typed, str(conflict), theirs=conflict.theirs, status=409)
        except OriginalChanged as exc:
            workspace = post_translations.open_workspace(current_user, post_id, locale)
            typed["original"] = workspace.original_stamp  # now shown: marking current again vouches for it
            return self._render_workspace(workspace, typed, str(exc), status=409)
        except TranslationError as exc:
            return self._render_workspace(workspace, typed, str(exc), status=400)
        if current:
            flash(gettext("Saved and marked current."), "success")
        else:
            flash(gettext("Saved."), "success")
        return redirect(url_for(".post_workspace", post_id=post_id, locale=locale))

    def _render_workspace(self, workspace, typed=None, error=None, theirs=None, status=200):
        translation = workspace.translation
        if typed is None:
            typed = {
                "title": translation.title if translation else "",
                "body": translation.body if translation else "",
                "version": str(translation.version) if translation else "0",
                "original": workspace.original_stamp,
            }
        return self.render(
            "admin/translation_workspace.html",
            workspace=workspace,
            typed=typed,
            error=error,
            theirs=theirs,
            may_edit_post=policies.posts.may_edit(current_user, workspace.post),
        ), status
