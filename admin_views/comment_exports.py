"""The comment queue's exports: the file for the list's current selection (in memory, streamed, or a background
job as cms.exports.deliver decides) and the job pages (progress, download) for whoever may download them."""

import flask_excel as excel
from flask import abort, flash, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext
from flask_security import current_user

from cms import exports, policies
from cms.extensions import db
from cms.models import ExportJob, ExportStatus, utcnow


class CommentExportViews:
    """Mixed into CommentView, whose `current_selection()` is what gets exported."""

    @expose("/export/<export_type>/")
    def export(self, export_type):
        if export_type not in exports.FORMATS:
            abort(404)
        locale = str(get_locale() or "en")
        try:
            delivery = exports.deliver(
                current_user, self.current_selection(), export_type, locale=locale, base_url=request.host_url
            )
        except exports.ExportError as exc:  # a full or unwritable exports folder, a job queue not answering
            flash(str(exc), "error")
            return redirect(self.get_url(".index_view", **request.args.to_dict(flat=False)))
        if delivery.kind == "job":
            total = f"{delivery.total:,}"
            flash(gettext("%(num)s comments are being exported in the background.", num=total), "info")
            return redirect(self.get_url(".export_job_view", job_id=delivery.job.id))
        name = f"comments-{utcnow():%Y%m%d-%H%M%S}.{export_type}"
        if delivery.kind == "file":
            path = delivery.path
            response = send_file(path, as_attachment=True, download_name=name)
            response.call_on_close(lambda: path.unlink(missing_ok=True))
            return response
        response = excel.make_response_from_array(delivery.rows, export_type, file_name=name)
        if export_type == "csv":
            response.set_data(b"\xef\xbb\xbf" + response.get_data())
            response.mimetype, response.charset = "text/csv", "utf-8"
        return response

    def _job_or_404(self, job_id: str) -> ExportJob:
        job = db.session.get(ExportJob, job_id) or abort(404)
        if not policies.exports.may_download(current_user, job):
            abort(403)
        return job

    @expose("/exports/<job_id>/")
    def export_job_view(self, job_id):
        return self.render("admin/export_job.html", job=self._job_or_404(job_id))

    @expose("/exports/<job_id>.json")
    def export_job_status(self, job_id):
        job = self._job_or_404(job_id)
        data = {"status": job.status, "done": job.done, "total": job.total, "percent": job.percent, "error": job.error}
        if job.status == ExportStatus.DONE:
            data["download_url"] = self.get_url(".export_job_download", job_id=job.id)
        return jsonify(data)

    @expose("/exports/<job_id>/download")
    def export_job_download(self, job_id):
        job = self._job_or_404(job_id)
        path = exports.download_path(job)
        if path is None:
            abort(409 if job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) else 410)
        return send_file(
            path, as_attachment=True, download_name=f"comments-{job.created_at:%Y%m%d-%H%M%S}.{job.format}"
        )
