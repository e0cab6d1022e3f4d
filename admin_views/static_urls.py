"""Flask-Admin's static files' URLs, built once per application rather than on every page: a console page links
about twenty of them (`admin/static.html`'s `url` macro), and a url_for for each cost about 0.8 ms a page."""

from __future__ import annotations

from flask import Flask, current_app, request, url_for

EXTENSION = "cms_console_static_urls"


def static_url(endpoint: str, **values) -> str:
    """url_for(endpoint, **values) for a static file. Kept without the script root, which is put in front on every
    call: the cache holds one entry for each file the templates name, whatever the requests' script roots."""
    known: dict = current_app.extensions.setdefault(EXTENSION, {})
    key = (endpoint, *sorted(values.items()))
    path = known.get(key)
    if path is None:
        path = known[key] = url_for(endpoint, **values).removeprefix(request.script_root)
    return request.script_root + path


def init_app(app: Flask) -> None:
    app.jinja_env.globals["console_static_url"] = static_url
