"""The public site: what readers see."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from cms.public import views  # noqa: E402,F401
