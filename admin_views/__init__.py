"""The staff console: every Flask-Admin view, registered by the application factory."""

from pathlib import Path

import flask_admin
from flask import Flask
from flask_admin import Admin
from flask_admin import babel as flask_admin_babel
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from admin_views import menu, static_urls
from admin_views.audit import AuditLogView
from admin_views.blocked_words import BlockedWordView
from admin_views.calendar import CalendarView
from admin_views.comments import CommentView
from admin_views.dashboard import DashboardView
from admin_views.follows import FollowView
from admin_views.media import MediaView
from admin_views.outbox import OutboxView
from admin_views.posts import PostView
from admin_views.roles import RoleView
from admin_views.translations import TranslationsView
from admin_views.user_import import UserImportView
from admin_views.users import UserView
from cms.headers import csp_nonce
from cms.models import AuditLog, BlockedWord, Comment, Follow, Media, OutgoingMail, Post, Role, User


def init_admin(app: Flask) -> Admin:
    admin = Admin(
        app,
        name=_l("Newsroom"),
        theme=Bootstrap4Theme(
            swatch=app.config["FLASK_ADMIN_SWATCH"],
            fluid=app.config["FLASK_ADMIN_FLUID_LAYOUT"],
            base_template="admin/cms_base.html",
        ),
        index_view=DashboardView(name=_l("Dashboard"), url="/admin"),
        # Flask-Admin's own catalogs are named zh_Hans_CN and es; copies under our locale names live here.
        translations_path=app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0],
        csp_nonce_generator=csp_nonce,  # Flask-Admin's own <script> tags carry the request's nonce
    )
    # Flask-Admin reads its package's catalogs after the copies. Flask-Babel then takes the plural rule of the last
    # catalog read, and for zh (no package catalog of that name) that is an empty catalog's n != 1: every plural
    # message of Flask-Admin's ("50 items", "%(count)s records were successfully deleted") showed its English.
    # The copies hold every language the site has, so they are the only catalogs read.
    flask_admin_babel.domain._translation_directories = []
    admin.add_view(PostView(Post, name=_l("Posts"), endpoint="post"))
    admin.add_view(CalendarView(name=_l("Calendar"), endpoint="calendar", url="calendar"))
    admin.add_view(MediaView(Media, name=_l("Media library"), endpoint="media"))
    admin.add_view(CommentView(Comment, name=_l("Comments"), endpoint="comment"))
    admin.add_view(
        BlockedWordView(BlockedWord, name=_l("Blocked words"), endpoint="blockedword", category=_l("Moderation"))
    )
    admin.add_view(UserView(User, name=_l("Users"), endpoint="user", category=_l("Accounts")))
    admin.add_view(
        UserImportView(name=_l("Import accounts"), endpoint="userimport", url="user-import", category=_l("Accounts"))
    )
    admin.add_view(RoleView(Role, name=_l("Roles"), endpoint="role", category=_l("Accounts")))
    admin.add_view(FollowView(Follow, name=_l("Follows"), endpoint="follow", category=_l("Accounts")))
    admin.add_view(AuditLogView(AuditLog, name=_l("Audit log"), endpoint="audit", category=_l("Accounts")))
    admin.add_view(OutboxView(OutgoingMail, name=_l("Outgoing mail"), endpoint="outbox", category=_l("Accounts")))
    admin.add_view(TranslationsView(name=_l("Translations"), endpoint="translations", url="translations"))
    admin.add_link(MenuLink(name=_l("Public site"), url="/"))
    expose_original_templates(app, admin)
    menu.init_app(app)
    static_urls.init_app(app)
    return admin


def expose_original_templates(app: Flask, admin: Admin) -> None:
    """Flask-Admin's own templates, also as "flask_admin/<name>": the few in cms/templates/admin/ that replace one
    of them (to drop an inline handler) import the rest of it from there."""
    folder = Path(flask_admin.__file__).parent / "templates" / admin.theme.folder
    original = PrefixLoader({"flask_admin": FileSystemLoader(folder)})
    app.jinja_loader = ChoiceLoader([app.jinja_loader, original]) if app.jinja_loader else original
