"""Bulk account import (ADMIN): upload xlsx or csv, see a dry run of every row, then apply all or nothing."""

import flask_excel as excel
from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_babel import gettext, ngettext
from flask_security import current_user

from admin_views.base import deny_access, staff_may
from cms.imports import (
    READ_OPTIONS,
    TEMPLATE_ROWS,
    XLSX_READ_OPTIONS,
    AccountImportError,
    apply,
    check_sheet_size,
    keep_pending,
    read_rows,
    take_pending,
    validate,
)
from cms.permissions import Perm

ACCEPTED = ("xlsx", "csv")


class UserImportView(BaseView):
    def is_accessible(self) -> bool:
        return staff_may(Perm.ADMIN)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    @expose("/", methods=("GET", "POST"))
    def index(self):
        if request.method == "GET":
            return self.render("admin/user_import.html", rows=None, token=None, error=None)
        upload = request.files.get("file")
        extension = upload.filename.rsplit(".", 1)[-1].lower() if upload and "." in upload.filename else ""
        if not upload or not upload.filename:
            return self._form_error(gettext("Choose an xlsx or csv file to upload."))
        if extension not in ACCEPTED:
            return self._form_error(gettext("Only .xlsx and .csv files can be imported."))
        try:
            if extension == "xlsx":
                check_sheet_size(upload.read())
                upload.seek(0)
            options = {**READ_OPTIONS, **(XLSX_READ_OPTIONS if extension == "xlsx" else {})}
            records = request.get_records(field_name="file", **options)
            rows = validate(read_rows(records))
        except AccountImportError as exc:
            return self._form_error(str(exc))
        except IndexError:  # pyexcel's answer to a workbook whose first sheet holds nothing
            return self._form_error(gettext("The file's first sheet is empty: the import reads the first sheet."))
        except Exception:  # pyexcel raises many kinds for a damaged or mislabelled file
            return self._form_error(gettext("The file could not be read as %(kind)s.", kind=extension))
        token = keep_pending(rows, current_user) if not any(row.errors for row in rows) else None
        return self.render("admin/user_import.html", rows=rows, token=token, error=None)

    def _form_error(self, message: str):
        return self.render("admin/user_import.html", rows=None, token=None, error=message), 400

    @expose("/apply/", methods=("POST",))
    def apply_view(self):
        try:
            rows = take_pending(request.form.get("token", ""), current_user)
            created = apply(rows, current_user)
        except AccountImportError as exc:
            flash(str(exc), "error")
            return redirect(self.get_url(".index"))
        flash(
            ngettext(
                "%(num)d account was created; an invitation to choose a password is on its way.",
                "%(num)d accounts were created; each will receive an invitation to choose a password.",
                created,
            )
            % {"num": created},
            "success",
        )
        return redirect(self.get_url("user.index_view"))

    @expose("/template.<kind>")
    def template(self, kind):
        if kind not in ACCEPTED:
            return self._form_error(gettext("Only .xlsx and .csv files can be imported."))
        return excel.make_response_from_array(TEMPLATE_ROWS, kind, file_name=f"accounts-template.{kind}")
