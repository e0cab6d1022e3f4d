"""The public site's blueprints: `public` under /<locale>/, and `site` for the few unprefixed URLs."""

from flask import Blueprint, abort, g

from cms.locale import supported_locales

bp = Blueprint("public", __name__, url_prefix="/<locale>")
site = Blueprint("site", __name__)


@bp.url_value_preprocessor
def pull_locale(endpoint, values):
    locale = (values or {}).pop("locale", None)
    if locale not in supported_locales():
        abort(404)
    g.locale = locale


@bp.url_defaults
def add_locale(endpoint, values):
    if "locale" not in values and g.get("locale"):
        values["locale"] = g.locale
