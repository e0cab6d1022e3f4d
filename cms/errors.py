"""Error pages: HTML for people, JSON for API clients, never a bare traceback."""

from flask import g, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from cms.extensions import db
from cms.locale import supported_locales

TITLES = {
    400: _l("Bad request"),
    403: _l("Forbidden"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
}


DESCRIPTIONS = {
    400: _l("The request could not be understood. Check what was sent and try again."),
    403: _l("You do not have permission to open this page."),
    404: _l("There is nothing at this address. Check the link or start again from the front page."),
    405: _l("This address does not accept that kind of request."),
    409: _l("The request conflicts with a change made in the meantime."),
    413: _l("The file is larger than the upload limit."),
    429: _l("Too many requests came from you in a short time. Wait a few minutes and try again."),
    500: _l("The error has been logged."),
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
    _locale_from_path()
    code = error.code or 500
    title = str(TITLES.get(code, error.name))
    # Werkzeug's stock English text is replaced by ours; a message the app gave (already translated) is kept.
    stock = type(error).description
    description = error.description if error.description != stock and code != 500 else DESCRIPTIONS.get(code, stock)
    if isinstance(error, CSRFError):
        description = gettext("The form expired or was sent from elsewhere. Reload the page and try again.")
    if _wants_json():
        return jsonify(error={"code": code, "title": title, "description": str(description)}), code
    return render_template("errors/error.html", code=code, title=title, description=description), code


def handle_unexpected(error: Exception):
    db.session.rollback()
    return render_error(InternalServerError())
