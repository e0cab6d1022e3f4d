"""The media library: only real images, re-encoded without metadata, under generated names."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder

from admin_views.media import PICKER_SIZE
from cms.extensions import db
from cms.media import MediaError, media_path, read_image, save_upload
from cms.models import Media, Post, PostTranslation
from tests.factories import make_post, make_translation
from tests.images import jpeg, jpeg_with_gps, multi_picture_jpeg, png, png_header, png_without_pixels, with_garbled_exif
from tests.support.database import fresh


def upload(browser, data: bytes, filename: str):
    token = browser.token_for("/admin/media/new/")
    return browser.post(
        "/admin/media/new/",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def media_rows() -> list[Media]:
    return list(fresh(sa.select(Media)).scalars())


def test_jpeg_is_reencoded_without_exif_and_gets_a_thumbnail(login_as):
    response = upload(login_as("author"), jpeg_with_gps(), "holiday photo.JPG")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [media] = media_rows()
    assert media.original_name == "holiday photo.JPG"
    assert media.file_name.endswith(".jpg") and media.file_name != "holiday photo.JPG"
    assert (media.width, media.height, media.content_type) == (800, 600, "image/jpeg")
    stored = media_path(media.file_name).read_bytes()
    assert b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
        assert image.getexif().get_ifd(0x8825) == {}
    with Image.open(media_path(media.file_name, thumbnail=True)) as thumb:
        assert max(thumb.size) <= 320


def test_image_is_served_with_its_type_and_nosniff(login_as, client):
    upload(login_as("author"), png(), "logo.png")
    [media] = media_rows()
    response = client.get(f"/media/images/{media.file_name}")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/media/images/thumbs/{media.file_name}").status_code == 200


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"<?php system($_GET['c']); ?>", "shell.jpg", "not a readable image"),
        (b"<?php echo 1; ?>", "shell.php", "Only JPEG, PNG, GIF and WebP images are accepted."),
        (jpeg_with_gps()[:1500], "truncated.jpg", "not a readable image"),
        (png(), "disguised.jpg", "content is not JPEG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg", "SVG images are not accepted"),
        (b"", "empty.png", "The file is empty."),
        (png_without_pixels(), "no-pixels.png", "not a readable image"),
    ],
    ids=["php-as-jpg", "php", "truncated", "png-named-jpg", "svg", "empty", "png-without-pixels"],
)
def test_bad_uploads_are_refused_with_a_message(login_as, data, filename, message):
    response = upload(login_as("author"), data, filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert media_rows() == []


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "a.png"), ("JPEG", "a.jpg"), ("WEBP", "a.webp")])
def test_an_image_whose_exif_is_not_exif_is_stored_without_it(login_as, fmt, name):
    """Metadata that is not TIFF data, as some phones and editors write: the picture is stored as it is, without
    the block (which is dropped anyway), where reading its orientation was a 500."""
    response = upload(login_as("author"), with_garbled_exif(fmt), name)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [media] = media_rows()
    assert (media.width, media.height) == (64, 48)
    with Image.open(media_path(media.file_name)) as stored:
        assert not stored.getexif() and b"garbage" not in media_path(media.file_name).read_bytes()


def test_a_phones_multi_picture_jpeg_is_stored_as_its_first_picture(login_as):
    """Many phones write a photo with a second picture after it (MPO): a JPEG, which was refused as "not JPEG"."""
    response = upload(login_as("author"), multi_picture_jpeg(), "IMG_0001.JPG")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [media] = media_rows()
    assert (media.content_type, media.width, media.height) == ("image/jpeg", 64, 48)
    with Image.open(media_path(media.file_name)) as stored:
        assert stored.format == "JPEG" and stored.getpixel((10, 10))[0] > 200  # the red first picture


def test_an_oversized_upload_goes_back_to_the_console_form_with_the_limit_named(app, login_as, monkeypatch):
    browser = login_as("author")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    response = upload(browser, jpeg_with_gps((3000, 3000)) + b"\0" * 60_000, "huge.jpg")
    assert response.status_code == 303 and response.location == "/admin/media/new/"
    form = browser.get(response.location).get_data(as_text=True)
    assert "The file is larger than the upload limit of 48.8 kB. Choose a smaller file." in form
    assert 'id="upload-limit" hidden data-max-bytes="50000"' in form  # the browser checks the next one first
    assert "File too large" not in form and "Back to the front page" not in form
    assert media_rows() == []


def test_a_console_form_address_with_a_query_is_kept_going_back(app, login_as, monkeypatch):
    browser = login_as("administrator")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10)
    response = browser.post("/admin/user-import/?from=menu", data={"file": (io.BytesIO(b"x" * 100), "a.csv")})
    assert response.status_code == 303 and response.location == "/admin/user-import/?from=menu"


def test_a_too_large_request_outside_the_console_is_a_413_naming_the_limit(app, login_as, monkeypatch):
    reader = login_as("reader")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2_000)
    response = reader.post("/en/profile", data={"about_me": "x" * 3_000})
    assert response.status_code == 413
    assert "The file is larger than the upload limit of 2,000 bytes." in response.get_data(as_text=True)


@pytest.mark.parametrize("filename", ["../../../etc/passwd.png", "..\\..\\win.png", "ａ/../b.png", "\u202egnp.exe.png"])
def test_client_path_never_reaches_the_disk(app, login_as, tmp_path, filename):
    response = upload(login_as("author"), png(), filename)
    assert response.status_code == 302
    [media] = media_rows()
    assert "/" not in media.file_name and ".." not in media.file_name
    path = media_path(media.file_name)
    assert path.parent == media_path("x").parent and path.exists()


def test_two_uploads_with_the_same_name_do_not_overwrite(login_as):
    browser = login_as("author")
    upload(browser, png((10, 10)), "same.png")
    upload(browser, png((20, 20)), "same.png")
    first, second = sorted(media_rows(), key=lambda m: m.id)
    assert first.file_name != second.file_name
    assert (first.width, second.width) == (10, 20)


def test_picker_lists_images_for_the_editor(login_as):
    browser = login_as("editor")
    upload(browser, png(), "chart.png")
    items = browser.get("/admin/media/picker/").get_json()["items"]
    assert items[0]["name"] == "chart.png" and items[0]["url"].startswith("/media/images/")


def test_author_cannot_delete_someone_elses_image(login_as):
    upload(login_as("editor"), png(), "editors.png")
    [media] = media_rows()
    author = login_as("author")
    response = author.post(
        "/admin/media/delete/", data={"id": media.id, "csrf_token": author.csrf()}, follow_redirects=True
    )
    assert "Only the uploader or an editor can delete an image." in response.get_data(as_text=True)
    assert len(media_rows()) == 1


@pytest.mark.parametrize("shown_by", ["featured", "body", "translation"])
def test_an_image_a_post_shows_is_kept_with_a_message_naming_the_post(login_as, users, monkeypatch, shown_by):
    """Deleted, it left readers a broken image (its address in the post's body, or the featured image quietly
    cleared). It is refused, naming the posts that show it, until none does."""
    author = login_as("author")
    upload(author, png(), "used.png")
    [media] = media_rows()
    media_id, file_name = media.id, media.file_name
    shown = f"![used](/media/images/{file_name})"
    post = make_post(users["author"], "published", title="Pictured", body=shown if shown_by == "body" else "Text",
                     featured_image_id=media.id if shown_by == "featured" else None)  # fmt: skip
    if shown_by == "translation":
        make_translation(post, "es", title="Con imagen", body=shown)
    for n in range(3):  # more posts than a refusal names (SHOWN_TITLES, 3)
        make_post(users["author"], "draft", title=f"Also {n}", body=f"![thumb](/media/images/thumbs/{file_name})")
    refused = author.post("/admin/media/delete/", data={"id": media_id, "csrf_token": author.csrf()},
                          follow_redirects=True)  # fmt: skip
    html = refused.get_data(as_text=True)
    assert "This image is shown in 4 posts (“Pictured”, “Also 0”, “Also 1”, …). Take it out of them first." in html
    assert len(media_rows()) == 1 and media_path(file_name).exists()
    db.session.execute(sa.delete(Post).where(Post.title == "Also 2"))
    db.session.commit()
    html = author.post("/admin/media/delete/", data={"id": media_id, "csrf_token": author.csrf()},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "This image is shown in 3 posts (“Pictured”, “Also 0”, “Also 1”). Take it out of them first." in html
    db.session.execute(sa.update(Post).values(body="Text", featured_image_id=None))
    db.session.execute(sa.delete(PostTranslation))
    db.session.commit()
    author.post("/admin/media/delete/", data={"id": media_id, "csrf_token": author.csrf()})
    assert media_rows() == [] and not media_path(file_name).exists()


def test_deleting_an_image_removes_its_files(login_as):
    browser = login_as("author")
    upload(browser, png(), "gone.png")
    [media] = media_rows()
    media_id, file_name = media.id, media.file_name
    assert media_path(file_name).exists()
    browser.post("/admin/media/delete/", data={"id": media_id, "csrf_token": browser.csrf()})
    assert media_rows() == []
    assert not media_path(file_name).exists()
    assert not media_path(file_name, thumbnail=True).exists()


# -- limits at their boundaries ----------------------------------------------------------------------
def multipart_upload(browser, data: bytes, filename: str) -> tuple[str, bytes]:
    """The upload request's content type and body, built once so its exact length is known."""
    fields = {"csrf_token": browser.token_for("/admin/media/new/"), "file": (io.BytesIO(data), filename)}
    environ = EnvironBuilder(method="POST", data=fields).get_environ()
    return environ["CONTENT_TYPE"], environ["wsgi.input"].read()


@pytest.mark.parametrize(("spare", "status"), [(0, 302), (-1, 303)], ids=["exactly-the-limit", "one-byte-over"])
def test_a_request_of_exactly_max_content_length_is_accepted_and_one_byte_more_gets_413(
    app, login_as, monkeypatch, spare, status
):
    browser = login_as("author")
    content_type, body = multipart_upload(browser, png(), "logo.png")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(body) + spare)
    response = browser.post("/admin/media/new/", data=body, content_type=content_type)
    assert response.status_code == status
    assert len(media_rows()) == (1 if status == 302 else 0)
    if status == 303:  # refused whole (413), and sent back to the form with the limit named
        assert response.location == "/admin/media/new/"
        limit = f"{len(body) - 1:,} bytes"
        assert f"The file is larger than the upload limit of {limit}." in browser.get("/admin/media/new/").get_data(
            as_text=True
        )


def test_a_file_of_exactly_max_content_length_is_stored_and_one_byte_more_refused(app, users, monkeypatch):
    """The service's own check, for callers that hand it a file without a request (CLI, jobs)."""
    data = png()
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(data))
    assert save_upload(FileStorage(io.BytesIO(data), filename="fits.png"), users["author"]).original_name == "fits.png"
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(data) - 1)
    with pytest.raises(MediaError, match="The file is larger than the upload limit."):
        save_upload(FileStorage(io.BytesIO(data), filename="too-big.png"), users["author"])
    assert [m.original_name for m in media_rows()] == ["fits.png"]


def test_an_image_of_max_pixels_is_read_and_one_pixel_more_refused(app):
    image, fmt = read_image(png((10, 10)), "square.png", max_pixels=100)
    assert (image.size, fmt) == ((10, 10), "PNG")
    with pytest.raises(MediaError, match="The image has too many pixels"):
        read_image(png((101, 1)), "strip.png", max_pixels=100)


def test_a_header_past_pillows_own_limit_is_refused_for_its_pixels(app, login_as):
    """A PNG header of 100,000 x 100,000 (10^10 pixels, 57 bytes): Pillow refuses to open it at all, and the
    editor read that the file was damaged, not that it was too large."""
    huge = png_header((100_000, 100_000))
    with pytest.raises(MediaError, match="at most 25 megapixels"):
        read_image(huge, "huge.png")
    response = upload(login_as("author"), huge, "huge.png")
    assert "The image has too many pixels (at most 25 megapixels)." in response.get_data(as_text=True)
    assert media_rows() == []


def test_a_6300_square_png_bomb_is_refused_from_its_header(app):
    """150 KB of PNG that decodes to 159 MB of RGBA (the attack measured 106 → 714 MiB per worker)."""
    buffer = io.BytesIO()
    Image.new("RGBA", (6300, 6300)).save(buffer, "PNG")
    with pytest.raises(MediaError, match="at most 25 megapixels"):
        read_image(buffer.getvalue(), "bomb.png")


@pytest.mark.parametrize(("kind", "size", "stored"), [
    ("png", (40, 30), (40, 30)), ("png", (41, 30), (40, 29)), ("jpeg", (40, 30), (40, 30)), ("jpeg", (80, 60), (40, 30)),
])  # fmt: skip
def test_images_wider_than_max_side_are_stored_reduced(app, kind, size, stored):
    data = png(size) if kind == "png" else jpeg(size)
    image, _ = read_image(data, f"wide.{kind}", max_side=40)
    assert image.size == stored


def test_large_images_are_decoded_one_at_a_time_per_worker(app, users, monkeypatch):
    """While one large decode runs (the lock held), another large upload waits; a small one does not."""
    import threading

    from cms import media

    monkeypatch.setattr(media, "LARGE_PIXELS", 50)
    done: dict[str, object] = {}

    def upload_in_app(name: str, data: bytes) -> None:
        with app.app_context():
            done[name] = save_upload(FileStorage(io.BytesIO(data), filename=f"{name}.png"), None).original_name

    with media._large_decode:
        small = threading.Thread(target=upload_in_app, args=("small", png((5, 5))))
        large = threading.Thread(target=upload_in_app, args=("large", png((10, 10))))
        small.start()
        large.start()
        small.join(timeout=30)
        assert done.get("small") == "small.png" and "large" not in done
    large.join(timeout=30)
    assert done.get("large") == "large.png"


@pytest.mark.parametrize(
    ("size", "thumbnail"), [((320, 200), (320, 200)), ((321, 200), (320, 199))], ids=["at-the-size", "one-wider"]
)
def test_a_thumbnail_keeps_an_image_of_the_thumbnail_size_and_shrinks_one_pixel_more(login_as, size, thumbnail):
    assert upload(login_as("author"), png(size), "wide.png").status_code == 302
    [media] = media_rows()
    with Image.open(media_path(media.file_name, thumbnail=True)) as thumb:
        assert thumb.size == thumbnail


@pytest.mark.parametrize("length", [255, 256], ids=["at-the-column-size", "one-longer"])
def test_a_long_file_name_is_kept_to_255_characters_with_its_extension(login_as, length):
    filename = "n" * (length - 4) + ".png"
    response = upload(login_as("author"), png(), filename)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [media] = media_rows()
    assert media.original_name == "n" * 251 + ".png"


def test_the_picker_offers_the_newest_picker_size_images(login_as, users):
    db.session.execute(
        sa.insert(Media),
        [{"file_name": f"f{n}.png", "original_name": f"image {n}.png", "content_type": "image/png", "size": 1,
          "width": 1, "height": 1, "uploader_id": users["editor"].id} for n in range(PICKER_SIZE + 1)],
    )  # fmt: skip
    db.session.commit()
    items = login_as("editor").get("/admin/media/picker/").get_json()["items"]
    assert len(items) == PICKER_SIZE
    assert [item["name"] for item in items[:2]] == [f"image {PICKER_SIZE}.png", f"image {PICKER_SIZE - 1}.png"]
    assert "image 0.png" not in {item["name"] for item in items}
