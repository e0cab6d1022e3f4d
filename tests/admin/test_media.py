"""The media library: only real images, re-encoded without metadata, under generated names."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from cms.media import media_path
from cms.models import Media
from tests.images import jpeg_with_gps, png
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
    ],
    ids=["php-as-jpg", "php", "truncated", "png-named-jpg", "svg", "empty"],
)
def test_bad_uploads_are_refused_with_a_message(login_as, data, filename, message):
    response = upload(login_as("author"), data, filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert media_rows() == []


def test_oversized_upload_gets_a_clear_413(app, login_as):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    try:
        response = upload(login_as("author"), jpeg_with_gps((3000, 3000)) + b"\0" * 60_000, "huge.jpg")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    assert media_rows() == []


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
