"""The console's main menu, rendered once per permissions, language and page kind rather than on every request:
Flask-Admin's menu macro asks every view whether it is accessible and builds every link each time."""

from __future__ import annotations

from collections import OrderedDict

from flask import Flask, current_app, g, request
from flask_babel import get_locale
from flask_security import current_user
from jinja2 import pass_context
from markupsafe import Markup

EXTENSION = "cms_console_menus"  # cms.catalog_store drops it when the catalogs change


@pass_context
def cached_menu(context, render) -> Markup:
    """`render()` (the layout's menu macro), remembered under what decides it: the identity's permission and role
    needs (not the user's own id), whether the account is active, the language, the view it is shown on (the
    active item), and the script root its links start with."""
    identity = g.get("identity")
    needs = frozenset(need for need in getattr(identity, "provides", ()) if need.method != "id")
    view = context.get("admin_view")
    key = (
        needs,
        bool(current_user.is_authenticated and current_user.active),
        str(get_locale()),
        getattr(view, "endpoint", None),
        request.script_root,
    )
    menus: OrderedDict = current_app.extensions.setdefault(EXTENSION, OrderedDict())
    menu = menus.get(key)
    if menu is None:
        menu = menus[key] = Markup(render())  # noqa: S704 (the menu macro's own HTML)  # nosec B704
        if len(menus) > current_app.config["CONSOLE_MENUS_CACHED"]:
            menus.popitem(last=False)
    else:
        menus.move_to_end(key)
    return menu


def init_app(app: Flask) -> None:
    app.jinja_env.globals["cached_menu"] = cached_menu
