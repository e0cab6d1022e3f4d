"""Unprefixed public URLs: the front door that picks a language, old post links, media files."""

import mimetypes

from flask import abort, redirect, send_from_directory, url_for

from cms.locale import preferred_locale
from cms.media import FORMATS, images
from cms.public.blueprint import site


@site.route("/")
def front_door():
    """Send readers to their language: saved preference, then Accept-Language, then the default."""
    response = redirect(url_for("public.index", locale=preferred_locale()))
    response.vary.update(("Accept-Language", "Cookie"))
    return response


@site.route("/posts/<slug>")
def legacy_post(slug: str):
    """An old link to a post, sent on in the reader's language as the front door does: a temporary redirect that
    varies with the language headers, since a permanent one is kept by browsers and shared caches and would send
    every later reader to the first reader's language."""
    response = redirect(url_for("public.post", locale=preferred_locale(), slug=slug))
    response.vary.update(("Accept-Language", "Cookie"))
    return response


@site.route("/media/images/<path:filename>")
def media_file(filename: str):
    """Only files of the image upload set, with the type they were stored as (and cms.headers.FILE_POLICY)."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in FORMATS:
        abort(404)
    return send_from_directory(
        images.config.destination,
        filename,
        mimetype=mimetypes.types_map.get(f".{extension}", "image/jpeg"),
        max_age=86400,
    )
