"""Error pages: HTML for people, JSON for API clients, never a bare traceback; a 503 while the database or
Redis is not answering."""

import logging

from flask import current_app, flash, g, jsonify, make_response, redirect, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from cms import outages
from cms.extensions import db
from cms.locale import supported_locales, upload_limit

log = logging.getLogger("cms.errors")

TITLES = {
    400: _l("Bad request"),
    403: _l("Forbidden"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Temporarily unavailable"),
}


DESCRIPTIONS = {
    400: _l("The request could not be understood. Check what was sent and try again."),
    403: _l("You do not have permission to open this page."),
    404: _l("There is nothing at this address. Check the link or start again from the front page."),
    405: _l("This address does not accept that kind of request."),
    409: _l("The request conflicts with a change made in the meantime."),
    429: _l("Too many requests came from you in a short time. Wait a few minutes and try again."),
    500: _l("The error has been logged."),
    503: _l("The site cannot answer just now. Please try again in a minute."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _locale_from_path() -> None:
    """A URL that matched no route still shows its error in the language its path names (/zh/…)."""
    if not g.get("locale"):
        first = request.path.strip("/").split("/", 1)[0]
        if first in supported_locales():
            g.locale = first


def render_error(error: HTTPException):
    if outages.is_outage(getattr(error, "original_exception", None)):
        # Raised outside the view (opening the session, a teardown): Flask hands it over as a 500.
        return render_unavailable(error.original_exception)  # type: ignore[attr-defined]
    code = error.code or 500
    if request_ctx.url_adapter is None:  # a Host the site does not answer to (TRUSTED_HOSTS): no link can be made
        return f"{code} {error.name}\n", code, {"Content-Type": "text/plain; charset=utf-8"}
    _locale_from_path()
    title = str(TITLES.get(code, error.name))
    # Werkzeug's stock English text is replaced by ours; a message the app gave (already translated) is kept.
    stock = type(error).description
    description = error.description if error.description != stock and code != 500 else DESCRIPTIONS.get(code, stock)
    if isinstance(error, CSRFError):
        description = gettext("The form expired or was sent from elsewhere. Reload the page and try again.")
    if code == 413:
        if not _wants_json() and request.path.startswith("/admin/"):
            return back_to_the_console_form()
        description = gettext("The file is larger than the upload limit of %(limit)s.", limit=upload_limit())
    # What the error carries besides its page: Allow on a 405, Retry-After on a 429 or 503, WWW-Authenticate.
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    if _wants_json():
        return jsonify(error={"code": code, "title": title, "description": str(description)}), code, headers
    return render_template("errors/error.html", code=code, title=title, description=description), code, headers


def back_to_the_console_form():
    """A console form whose request was over MAX_CONTENT_LENGTH: back to the form (a GET of the same address) with
    the limit named, in the console. What was typed is lost with the refused body; the console's upload_limit.js
    stops such a form in the browser first, where the fields are kept."""
    limit = upload_limit()
    flash(
        gettext("The file is larger than the upload limit of %(limit)s. Choose a smaller file.", limit=limit), "error"
    )
    return redirect(request.full_path if request.query_string else request.path, code=303)


def handle_unexpected(error: Exception):
    if outages.is_outage(error):
        return render_unavailable(error)
    db.session.rollback()
    return render_error(InternalServerError())


def handle_outage(error: Exception):
    """The handler of outages.OUTAGE_TYPES: a 503 for an outage; any other error of those types goes on as the
    unexpected error it is (a 500, or raised in testing)."""
    if not outages.is_outage(error):
        raise error
    return render_unavailable(error)


class OutageLogLine(logging.Filter):
    """On the app's logger: Flask logs an error raised outside a view (opening or saving a server-side session)
    with its traceback before the 503 handler runs. An outage gets one warning line instead, as the 503s from views
    do; every other error keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and outages.is_outage(error):
            cause = getattr(error, "orig", None) or error
            record.msg, record.args = f"{record.getMessage()}: 503, {type(cause).__name__}{cause.args}", None
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def render_unavailable(error: BaseException):
    """503 with Retry-After, in the request's language, rendered without the database: the request's transaction
    is rolled back (its connection dropped when even that fails) and the page is drawn for an anonymous reader, so
    nothing asks the database for the signed-in user again."""
    cause = getattr(error, "orig", None) or error  # the driver's own error: one line, without the statement
    log.warning("%s %s answered 503: %s%s", request.method, request.path, type(cause).__name__, cause.args)
    try:
        db.session.rollback()
    except Exception:
        db.session().invalidate()
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is not None:
        g._login_user = login_manager.anonymous_user()
    if request_ctx._session is None:  # opening the session failed (Flask 3.1's attribute): one never saved
        request_ctx._session = current_app.session_interface.make_null_session(current_app)
    response = make_response(render_error(ServiceUnavailable()))
    response.headers["Retry-After"] = str(outages.RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
