"""Media uploads: only real images, re-encoded without metadata, stored under generated names."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import threading
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_uploads import UploadNotAllowed, UploadSet
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import or_, select
from werkzeug.datastructures import FileStorage

from cms import outages, policies
from cms.domain import DomainError
from cms.extensions import db
from cms.locale import upload_limit
from cms.models import Media, Post, PostTranslation, User

log = logging.getLogger("cms.media")

# SVG can carry scripts; BMP and TIFF have no place on the web. Refused outright.
IMAGE_EXTENSIONS = ("jpg", "jpe", "jpeg", "png", "gif", "webp")
images = UploadSet("images", IMAGE_EXTENSIONS)

# What each extension must really contain, and how it is stored and served.
FORMATS = {
    "jpg": "JPEG", "jpe": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP",
}  # fmt: skip
STORED_EXTENSION = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# Pillow refuses from 89 million pixels; a worker must stay far below: 25 MP still takes a 24 MP camera photo.
MAX_PIXELS = 25_000_000
# Stored images are at most this wide and high (JPEGs are decoded at a reduced scale straight away).
MAX_SIDE = 4096
# Images above this many pixels are decoded one at a time per worker, so parallel uploads cannot add up.
LARGE_PIXELS = 4_000_000
_large_decode = threading.BoundedSemaphore(1)
THUMBNAIL_SIZE = (320, 320)
THUMBS = "thumbs"
SHOWN_TITLES = 3  # posts a refused delete names; "…" says there are more


# What Pillow raises for an EXIF block it cannot parse ("not a TIFF file"; a hex text chunk that is not hex).
UNREADABLE_METADATA = (SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error)


class MediaError(DomainError):
    """An upload refused; the message says why."""


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _clean(image: Image.Image, fmt: str) -> Image.Image:
    """Pixels only: EXIF (GPS, camera), XMP, ICC and comments are dropped (in place: no second copy)."""
    # Upright once the orientation tag is gone; from metadata that is not EXIF, as it is stored.
    with contextlib.suppress(*UNREADABLE_METADATA):
        ImageOps.exif_transpose(image, in_place=True)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if fmt in ("PNG", "GIF", "WEBP") and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    transparency = image.info.get("transparency")
    image.info = {"transparency": transparency} if transparency is not None and fmt in ("PNG", "GIF") else {}
    return image


def _thumbnail(image: Image.Image) -> Image.Image:
    """A small copy made by reducing first, never by copying the full image."""
    ratio = min(THUMBNAIL_SIZE[0] / image.width, THUMBNAIL_SIZE[1] / image.height, 1.0)
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    thumb = image.resize(size, reducing_gap=3.0)
    thumb.info = dict(image.info)
    return thumb


ENCODER_OPTIONS: dict[str, dict] = {
    "JPEG": {"quality": 88, "optimize": True},
    "WEBP": {"quality": 85},
    "PNG": {"optimize": True},
}


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **ENCODER_OPTIONS.get(fmt, {}))
    return out.getvalue()


def _too_many_pixels(max_pixels: int) -> MediaError:
    return MediaError(_l("The image has too many pixels (at most %(num)s megapixels).", num=f"{max_pixels / 1e6:g}"))


def read_image(
    data: bytes, filename: str, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE
) -> tuple[Image.Image, str]:
    """Decode the upload fully and check it is the image type its name claims and has at most `max_pixels`."""
    ext = _extension(filename)
    if ext == "svg":
        raise MediaError(_l("SVG images are not accepted: they can contain scripts. Upload a PNG instead."))
    if ext not in FORMATS:
        raise MediaError(_l("Only JPEG, PNG, GIF and WebP images are accepted."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > max_pixels:
            raise _too_many_pixels(max_pixels)
        if image.format in ("JPEG", "MPO"):  # decode straight at the smallest scale still MAX_SIDE wide or high
            image.draft(image.mode if image.mode in ("RGB", "L") else "RGB", (max_side, max_side))
        image.load()  # a truncated or corrupt file fails here
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), reducing_gap=3.0)
    except MediaError:
        raise
    except Image.DecompressionBombError:  # Pillow refuses past twice its own limit (179 MP) before we can count
        raise _too_many_pixels(max_pixels) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        IndexError,
        EOFError,
        struct.error,
    ):  # fmt: skip  (IndexError: a PNG with no pixel data at all)
        raise MediaError(_l("The file is not a readable image (it may be damaged or of another type).")) from None
    # A phone's multi-picture JPEG (MPO: the photo, then previews or a second view) is a JPEG; its first picture
    # is kept.
    fmt = "JPEG" if image.format == "MPO" else image.format
    if fmt != FORMATS[ext]:
        raise MediaError(
            _l("The file's content is not %(format)s, though its name ends in .%(ext)s.", format=FORMATS[ext], ext=ext)
        )
    return image, fmt


def _pixels(data: bytes) -> int:
    """The pixel count an image file declares (its header only), 0 when it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.width * probe.height
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return 0


def save_upload(upload: FileStorage, uploader: User | None) -> Media:
    """Validate, re-encode and store an uploaded image with a thumbnail; returns the committed Media row."""
    if upload is None or not upload.filename:
        raise MediaError(_l("Choose an image to upload."))
    root, ext = os.path.splitext(os.path.basename(upload.filename.replace("\\", "/")) or "image")
    original_name = root[: 255 - len(ext)] + ext  # the column holds 255 characters; the type check needs the ext
    data = upload.read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    if len(data) > current_app.config["MAX_CONTENT_LENGTH"]:
        raise MediaError(_l("The file is larger than the upload limit of %(limit)s.", limit=upload_limit()))
    if not data:
        raise MediaError(_l("The file is empty."))
    with _large_decode if _pixels(data) > LARGE_PIXELS else contextlib.nullcontext():
        image, fmt = read_image(data, original_name)
        clean = _clean(image, fmt)
        encoded = _encode(clean, fmt)
        thumb = _thumbnail(clean)
        width, height = clean.size
        del image, clean
    file_name = f"{uuid.uuid4().hex}.{STORED_EXTENSION[fmt]}"
    try:
        images.save(FileStorage(io.BytesIO(encoded), filename=file_name), name=file_name)
        images.save(FileStorage(io.BytesIO(_encode(thumb, fmt)), filename=file_name), folder=THUMBS, name=file_name)
    except UploadNotAllowed:
        raise MediaError(_l("Only JPEG, PNG, GIF and WebP images are accepted.")) from None
    except OSError as exc:  # a full or unwritable uploads folder: no row, and no file or half file left
        remove_files(file_name)
        problem = outages.disk_problem(exc)
        if problem is None:
            raise
        log.exception("storing upload %s failed", file_name)
        if problem == "full":
            raise MediaError(_l("The image was not stored: the uploads disk is full. Tell an administrator.")) from None
        raise MediaError(
            _l("The image was not stored: the uploads folder cannot be written to. Tell an administrator.")
        ) from None
    media = Media(
        file_name=file_name,
        original_name=original_name,
        content_type=CONTENT_TYPES[fmt],
        size=len(encoded),
        width=width,
        height=height,
        uploader_id=getattr(uploader, "id", None),
    )
    db.session.add(media)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        remove_files(file_name)
        raise
    return media


def media_path(file_name: str, thumbnail: bool = False) -> Path:
    return Path(images.path(file_name, folder=THUMBS if thumbnail else None))


def check_delete(user: User, media: Media) -> None:
    """Only the uploader or an editor removes an image: posts of others may show it. An image a post still shows (as
    its featured image, or by its address in its body or a translation's) is kept: its readers would get a broken
    image."""
    if not policies.media.may_delete(user, media):
        raise MediaError(_l("Only the uploader or an editor can delete an image."))
    showing = posts_showing(media)
    if showing:
        titles = ", ".join(f"“{title}”" for title in showing[:SHOWN_TITLES])
        raise MediaError(
            ngettext(
                "This image is shown in %(num)d post (%(titles)s). Take it out of the post first.",
                "This image is shown in %(num)d posts (%(titles)s). Take it out of them first.",
                len(showing),
                titles=titles + (", …" if len(showing) > SHOWN_TITLES else ""),
            )
        )


def posts_showing(media: Media) -> list[str]:
    """The titles of the posts that show `media`: as their featured image, or by its file name in their body or in
    a translation's (the image's address and its thumbnail's hold it; each upload's name is its own). Reads every
    body, which an index cannot serve: a delete is rare."""
    named = or_(Post.body.contains(media.file_name, autoescape=True), Post.id.in_(
        select(PostTranslation.post_id).where(PostTranslation.body.contains(media.file_name, autoescape=True))
    ))  # fmt: skip
    return list(
        db.session.scalars(select(Post.title).where(or_(Post.featured_image_id == media.id, named)).order_by(Post.id))
    )


def remove_files(file_name: str) -> None:
    """Remove an image and its thumbnail, whichever of them exist; a folder that refuses is logged, not raised
    (the row is gone or was never made: a file left over is unreachable, not an error for the user)."""
    for thumbnail in (False, True):
        try:
            media_path(file_name, thumbnail).unlink(missing_ok=True)
        except NotADirectoryError:  # the folder is not there, so neither is the file
            pass
        except OSError:
            log.exception("could not remove %s", media_path(file_name, thumbnail))


def media_url(media: Media, thumbnail: bool = False) -> str:
    return images.url(f"{THUMBS}/{media.file_name}" if thumbnail else media.file_name)
