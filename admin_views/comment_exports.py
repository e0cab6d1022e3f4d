"""The comment queue's exports: the file for the list's current selection (in memory, streamed, or a background
job as cms.exports.deliver decides), and the job pages (list, progress, download, run a failed job again) for
whoever may download them."""

import io

from flask import abort, flash, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext
from flask_security import current_user

from cms import exports, policies
from cms.extensions import db
from cms.models import ExportJob, ExportStatus, utcnow

JOBS_LISTED = 50  # the newest background exports the jobs list shows


class CommentExportViews:
    """Mixed into CommentView, whose `current_selection()` and `current_order()` are what gets exported."""

    @expose("/export/<export_type>/")
    def export(self, export_type):
        if export_type not in exports.FORMATS:
            abort(404)
        locale = str(get_locale() or "en")
        try:
            delivery = exports.deliver(
                current_user,
                self.current_selection(),
                export_type,
                locale=locale,
                base_url=request.host_url,
                order=self.current_order(),
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
        return send_file(io.BytesIO(delivery.data or b""), as_attachment=True, download_name=name)

    def _job_or_404(self, job_id: str) -> ExportJob:
        """The job, after failing the jobs whose worker is gone, so whoever looks sees the truth (cms.leases)."""
        exports.fail_stale_jobs()
        job = db.session.get(ExportJob, job_id) or abort(404)
        if not policies.exports.may_download(current_user, job):
            abort(403)
        return job

    @expose("/exports/")
    def export_jobs_view(self):
        exports.fail_stale_jobs()
        jobs = exports.recent_jobs(JOBS_LISTED, policies.exports.visible_clause(current_user))
        return self.render("admin/export_jobs.html", jobs=jobs, reason=exports.failure_reason, listed=JOBS_LISTED)

    @expose("/exports/<job_id>/")
    def export_job_view(self, job_id):
        job = self._job_or_404(job_id)
        return self.render("admin/export_job.html", job=job, error=exports.failure_reason(job))

    @expose("/exports/<job_id>.json")
    def export_job_status(self, job_id):
        job = self._job_or_404(job_id)
        data = {
            "status": job.status,
            "done": job.done,
            "total": job.total,
            "percent": job.percent,
            "error": exports.failure_reason(job),
        }
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

    @expose("/exports/<job_id>/run-again", methods=("POST",))
    def export_job_run_again(self, job_id):
        """A failed job's export again, as a new job (the failed one keeps its reason); a second press of the
        same button leads to the job the first one made."""
        job = self._job_or_404(job_id)
        try:
            rerun, made = exports.run_again(current_user, job)
        except exports.ExportError as exc:
            abort(409, str(exc))
        if made:
            total = f"{rerun.total:,}"
            flash(gettext("%(num)s comments are being exported again in the background.", num=total), "info")
        else:
            flash(gettext("This export was already run again; here it is."), "info")
        return redirect(self.get_url(".export_job_view", job_id=rerun.id))
