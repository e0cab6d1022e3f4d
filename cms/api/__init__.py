"""The read-only JSON API of published content: /api/v1/…"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from cms.api import views  # noqa: E402,F401  (registers the routes)
