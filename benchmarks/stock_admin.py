"""The yardstick for the staff console: a stock Flask-Admin over the product's own models and tables, untuned and
without authentication, as a newsroom would first write it. Served by gunicorn beside the product:

    CMS_DATABASE_URL=mysql+pymysql://… gunicorn -w 2 'benchmarks.stock_admin:create_app()'
"""

import os

from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_admin.theme import Bootstrap4Theme
from flask_babel import Babel

from cms.extensions import db
from cms.models import Comment, Follow, Post, Role, User


class CommentView(ModelView):
    column_filters = ("status", "post.id", "created_at")
    column_searchable_list = ("body",)


class PostView(ModelView):
    column_filters = ("status", "created_at")
    column_searchable_list = ("title",)


class UserView(ModelView):
    column_filters = ("member_since",)
    column_searchable_list = ("email", "username")


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ["CMS_DATABASE_URL"]
    app.config["SECRET_KEY"] = "stock-admin-benchmark-only"  # noqa: S105 (a benchmark yardstick)
    db.init_app(app)
    Babel(app)  # Flask-Admin translates its labels through Flask-Babel whenever it is installed
    admin = Admin(app, name="Stock Flask-Admin", theme=Bootstrap4Theme())
    admin.add_view(CommentView(Comment, db))
    admin.add_view(PostView(Post, db))
    admin.add_view(UserView(User, db))
    admin.add_view(ModelView(Role, db))
    admin.add_view(ModelView(Follow, db))
    return app


def filter_arg(app: Flask, endpoint: str, label: str, operation: str) -> str:
    """The URL argument of a filter (stock Flask-Admin numbers them: flt0_<index>), found by its label."""
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)
        for arg, (_index, flt) in view._filter_args.items():
            if str(flt.name) == label and str(flt.operation()) == operation:
                return f"flt0_{arg}"
    raise LookupError(f"{endpoint} has no filter {label!r} {operation!r}")
