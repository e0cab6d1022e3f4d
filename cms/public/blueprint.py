"""The public site's blueprint, which its view modules register their routes on."""

from flask import Blueprint

bp = Blueprint("public", __name__)
