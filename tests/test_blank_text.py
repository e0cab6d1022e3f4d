"""Required text of only white space (or invisible characters) is refused wherever it can be written: titles,
translations, comments, usernames, catalog entries; through the console, the public site, the CLI and the
services. One row per place, each with the message its user reads."""

import polib
import pytest
import sqlalchemy as sa

from cms import catalogs
from cms.accounts import AccountError, create_user
from cms.catalog_editor import entry_key, entry_value
from cms.comments import CommentError, add_comment
from cms.domain import is_blank
from cms.extensions import db
from cms.models import CatalogEntry, Comment, Post, PostTranslation, User
from cms.posts import PostError, prepare_post
from tests.factories import make_post
from tests.support.catalogs import built_entry, serving
from tests.support.database import fresh
from tests.support.web import Browserish

BLANKS = [" ", "\t\n  ", "\u3000\u3000", "\u200b\u200b\u200b", " \ufeff "]
LOCALES = ["en", "zh", "es"]
REQUIRED = "This field is required."  # WTForms' DataRequired, which already refuses plain white space
POST_TITLE = "A post needs a title: spaces alone are not one."
TRANSLATION_TITLE = "The zh translation needs a title: spaces alone are not one."
WORKSPACE_TITLE = "A translation needs a title."
COMMENT = "A comment cannot be empty."
USERNAME = "A username cannot be only spaces."
CATALOG = "a translation cannot be only white space"


def _signed_in(app, role: str) -> Browserish:
    browser = Browserish(app.test_client())
    browser.login(f"{role}@example.com")
    return browser


def _refused(call) -> tuple[bool, str]:
    try:
        call()
    except (PostError, CommentError, AccountError) as exc:
        db.session.rollback()
        return False, str(exc)
    return True, ""


def post_in_console(app, users, text):
    fields = {"title": text, "slug": "", "locale": "en", "body": "Body", "status": "draft"}
    response = _signed_in(app, "editor").submit("/admin/post/new/", {**fields, "author": str(users["editor"].id)})
    return response.status_code == 302, response.get_data(as_text=True)


def post_by_service(app, users, text):
    post = Post(title=text, slug="", body="Body", locale="en", status="draft", author=users["author"])
    db.session.add(post)
    return _refused(lambda: prepare_post(post, users["author"], None, LOCALES))


def translation_in_console(app, users, text):
    post = make_post(users["editor"], "draft", title="Original")
    url = f"/admin/post/edit/?id={post.id}"
    inline = {"translations-0-locale": "zh", "translations-0-title": text, "translations-0-body": "正文"}
    response = _signed_in(app, "editor").edit(url, inline)
    return response.status_code == 302, response.get_data(as_text=True)


def translation_by_service(app, users, text):
    post = make_post(users["author"], "draft", title="Original")
    post.translations.append(PostTranslation(locale="zh", title=text, body="正文"))
    return _refused(lambda: prepare_post(post, users["author"], "draft", LOCALES))


def translation_in_workspace(app, users, text):
    post = make_post(users["editor"], "published", title="Original")
    url = f"/admin/translations/content/{post.id}/zh/"
    browser = _signed_in(app, "translator")
    response = browser.post(url, data={**browser.open_form(url), "title": text, "body": "正文", "action": "save"})
    return response.status_code == 302, response.get_data(as_text=True)


def comment_form(app, users, text):
    post = make_post(users["author"], "published", title="Open for comments")
    url = f"/en/posts/{post.slug}"
    response = _signed_in(app, "reader").submit(url, {"body": text}, post_url=f"{url}/comments")
    return response.status_code == 302, response.get_data(as_text=True)


def comment_by_service(app, users, text):
    post = make_post(users["author"], "published", title="Open for comments")
    return _refused(lambda: add_comment(users["reader"], post, text))


def username_in_console(app, users, text):
    fields = {"email": "new.person@example.com", "username": text, "active": "y", "new_password": "a-long-password"}
    response = _signed_in(app, "administrator").submit("/admin/user/new/", fields)
    return response.status_code == 302, response.get_data(as_text=True)


def username_at_registration(app, users, text):
    fields = {"email": "new.person@example.com", "username": text}
    fields |= {"password": "a-long-password", "password_confirm": "a-long-password"}
    response = Browserish(app.test_client()).submit("/register", fields)
    return response.status_code == 302, response.get_data(as_text=True)


def username_by_command(app, users, text):
    args = ["cms", "create-user", "new.person@example.com", "--password", "a-long-password", "--username", text]
    result = app.test_cli_runner().invoke(args=args)
    return result.exit_code == 0, result.output


def username_by_service(app, users, text):
    return _refused(lambda: create_user("new.person@example.com", "a-long-password", ["Reader"], username=text))


def catalog_entry_saved(app, users, text, served):
    entry = built_entry(served, "es", "Latest posts")
    result = catalogs.save_translation(
        users["translator"], "es", entry_key(entry), entry_value(entry), {"0": text}, False
    )
    return result.ok, " ".join(str(error) for error in result.errors)


def catalog_entry_imported(app, users, text, served, tmp_path):
    catalog = polib.POFile()
    catalog.metadata = {"Language": "es", "Content-Type": "text/plain; charset=UTF-8"}
    catalog.append(polib.POEntry(msgid="Latest posts", msgstr=text))
    path = tmp_path / "es.po"
    catalog.save(str(path))
    result = app.test_cli_runner().invoke(args=["cms", "i18n", "import-po", str(path), "--locale", "es"])
    return result.exit_code == 0, result.output


PLACES = {
    "post title, console": (post_in_console, [POST_TITLE]),
    "post title, service": (post_by_service, [POST_TITLE]),
    "translation title, console": (translation_in_console, [TRANSLATION_TITLE]),
    "translation title, service": (translation_by_service, [TRANSLATION_TITLE]),
    "translation title, workspace": (translation_in_workspace, [WORKSPACE_TITLE]),
    "comment, public form": (comment_form, [REQUIRED, COMMENT]),
    "comment, service": (comment_by_service, [COMMENT]),
    "username, console": (username_in_console, [REQUIRED, USERNAME]),
    # Flask-Security's own rule (letters and digits only) refuses these before ours is asked.
    "username, registration": (
        username_at_registration,
        ["Username not provided", "only letters and numbers", "not valid for the field"],
    ),
    "username, command": (username_by_command, [USERNAME]),
    "username, service": (username_by_service, [USERNAME]),
    "catalog entry, translator's save": (catalog_entry_saved, [CATALOG]),
    "catalog entry, .po import": (catalog_entry_imported, [CATALOG]),
}


def written() -> dict:
    return {
        "posts": fresh(sa.select(Post.title)).scalars().all(),
        "translations": fresh(sa.select(PostTranslation.title)).scalars().all(),
        "comments": fresh(sa.select(sa.func.count()).select_from(Comment)).scalar(),
        "users": fresh(sa.select(sa.func.count()).select_from(User)).scalar(),
        "catalog entries": fresh(sa.select(sa.func.count()).select_from(CatalogEntry)).scalar(),
    }


@pytest.mark.parametrize("text", BLANKS, ids=repr)
@pytest.mark.parametrize("place", PLACES)
def test_blank_required_text_is_refused_in_every_place_with_a_message(app, users, catalog_dir, tmp_path, place, text):
    write, messages = PLACES[place]
    if place.startswith("catalog"):
        with serving(app, catalog_dir, tmp_path / "served") as served:
            extra = (served, tmp_path) if "import" in place else (served,)
            before = written()
            accepted, output = write(app, users, text, *extra)
    else:
        before = written()
        accepted, output = write(app, users, text)
    assert not accepted
    assert any(message in output for message in messages), output[-3000:]
    after = written()
    assert after["comments"] == before["comments"] and after["users"] == before["users"]
    assert after["catalog entries"] == before["catalog entries"]
    assert not any(is_blank(title) for title in after["posts"] + after["translations"])


@pytest.mark.parametrize(
    ("text", "blank"),
    [("", True), (" \t\n", True), ("\u3000", True), ("\u200b\u200d\ufeff", True), ("x", False), (" 中 ", False)],
)
def test_blank_means_nothing_a_reader_would_see(text, blank):
    assert is_blank(text) is blank


def test_a_title_is_kept_without_the_spaces_around_it(app, users):
    post = Post(title="  Spaced out \t", slug="", body="", locale="en", status="draft", author=users["author"])
    db.session.add(post)
    prepare_post(post, users["author"], None, LOCALES)
    db.session.commit()
    assert fresh(sa.select(Post.title, Post.slug)).one() == ("Spaced out", "spaced-out")
