"""The media library (WRITE): upload images, browse thumbnails, pick images for posts."""

from flask import jsonify
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from sqlalchemy import select

from admin_views.base import StaffModelView
from cms.extensions import db
from cms.forms import AppForm
from cms.media import IMAGE_EXTENSIONS, MediaError, check_delete, media_url, remove_files, save_upload
from cms.models import Media
from cms.permissions import Perm

PICKER_SIZE = 60


class UploadForm(AppForm):
    file = FileField(
        _l("Image"),
        validators=[FileRequired()],
        description=_l("JPEG, PNG, GIF or WebP. Metadata such as the camera and GPS position is removed."),
        render_kw={"accept": ",".join(f".{ext}" for ext in IMAGE_EXTENSIONS)},
    )


def _thumbnail(view, context, model, name):
    return Markup('<img src="{}" alt="{}" class="media-thumb">').format(
        media_url(model, thumbnail=True), model.original_name
    )


def _size(view, context, model, name):
    return f"{model.size / 1024:.0f} KB" if model.size < 1024 * 1024 else f"{model.size / 1024 / 1024:.1f} MB"


class MediaView(StaffModelView):
    required = Perm.WRITE
    can_edit = False
    column_list = ("thumbnail", "original_name", "content_type", "size", "width", "height", "uploader", "created_at")
    row_name_column = "original_name"
    column_details_list = column_list + ("file_name",)
    column_export_list = ("id", "file_name", "original_name", "content_type", "size", "width", "height", "created_at")
    column_labels = {"thumbnail": _l("Preview"), "original_name": _l("Name")}
    column_formatters = {"thumbnail": _thumbnail, "size": _size}
    column_formatters_detail = {"thumbnail": _thumbnail, "size": _size}
    column_searchable_list = ("original_name",)
    column_filters = ("content_type", "uploader.username", "created_at")
    column_sortable_list = ("original_name", "size", "created_at")
    column_default_sort = ("created_at", True)

    def create_form(self, obj=None):
        return UploadForm()

    def create_model(self, form):
        try:
            return save_upload(form.file.data, current_user)
        except MediaError as exc:
            form.file.errors = [*form.file.errors, str(exc)]
            return False

    def on_model_delete(self, model):
        self.enforce(check_delete, current_user, model)

    def after_model_delete(self, model):
        remove_files(model.file_name)

    @expose("/picker/")
    def picker_view(self):
        rows = db.session.scalars(select(Media).order_by(Media.created_at.desc(), Media.id.desc()).limit(PICKER_SIZE))
        items = [
            {"id": m.id, "name": m.original_name, "url": media_url(m), "thumbnail": media_url(m, thumbnail=True)}
            for m in rows
        ]
        return jsonify(items=items)
