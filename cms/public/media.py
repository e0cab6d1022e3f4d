"""Serving uploaded images: only files of the upload set, with the type they were stored as."""

import mimetypes

from flask import abort, send_from_directory

from cms.media import FORMATS, images
from cms.public.blueprint import bp


@bp.route("/media/images/<path:filename>")
def media_file(filename: str):
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in FORMATS:
        abort(404)
    response = send_from_directory(
        images.config.destination, filename, mimetype=mimetypes.types_map.get(f".{extension}", "image/jpeg"),
        max_age=86400,
    )  # fmt: skip
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
