"""Error pages: HTML for people, JSON for API clients, never a bare traceback."""

from flask import jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from cms.extensions import db

TITLES = {
    400: _l("Bad request"),
    403: _l("Forbidden"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    500: _l("Something went wrong"),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(error: HTTPException):
    code = error.code or 500
    title = str(TITLES.get(code, error.name))
    description = error.description if code != 500 else gettext("The error has been logged.")
    if isinstance(error, CSRFError):
        description = gettext("The form expired or was sent from elsewhere. Reload the page and try again.")
    if _wants_json():
        return jsonify(error={"code": code, "title": title, "description": str(description)}), code
    return render_template("errors/error.html", code=code, title=title, description=description), code


def handle_unexpected(error: Exception):
    db.session.rollback()
    return render_error(InternalServerError())
