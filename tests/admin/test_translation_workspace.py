"""The content translation workspace (/admin/translations/content/<post_id>/<locale>/): the original and the
translation side by side in the translator's languages, saving and marking current, nothing else of the post
changed, the original's changes since the translation was last marked current, and no lost edit."""

import re

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Post, PostTranslation, User
from tests.factories import make_post, make_translation
from tests.support.database import fresh
from tests.support.web import form_values, page_errors


def workspace_url(post, locale: str) -> str:
    return f"/admin/translations/content/{post.id}/{locale}/"


def translation_of(post, locale: str) -> PostTranslation | None:
    return fresh(
        sa.select(PostTranslation).where(PostTranslation.post_id == post.id, PostTranslation.locale == locale)
    ).scalar_one_or_none()


def save(browser, post, lang: str, action: str = "current", form: dict | None = None, **changes):
    """Submit the workspace's form (as opened now, or `form` as opened earlier) with some fields changed."""
    data = {**(form or browser.open_form(workspace_url(post, lang))), **changes, "action": action}
    return browser.post(workspace_url(post, lang), data=data)


@pytest.fixture
def story(users):
    return make_post(users["editor"], "published", title="Floods in the valley", body="The river rose.\n\nRoads shut.")


def test_content_list_links_translators_to_the_workspace_not_the_post_form(login_as, story):
    html = login_as("translator").get("/admin/translations/content/").get_data(as_text=True)
    assert f'href="/admin/translations/content/{story.id}/zh/"' in html
    assert f'href="/admin/translations/content/{story.id}/es/"' in html
    assert "/admin/post/edit/" not in html
    admin = login_as("administrator").get("/admin/translations/content/").get_data(as_text=True)
    assert f'href="/admin/post/edit/?id={story.id}"' in admin  # who may edit the post still gets its form


def test_workspace_shows_the_original_beside_an_empty_translation(login_as, story):
    response = login_as("translator").get(workspace_url(story, "es"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    original = html[html.index('id="original"') : html.index('id="translation"')]
    assert "Floods in the valley" in original and "The river rose." in original
    form = form_values(html)
    assert (form["title"], form["body"], form["version"]) == ("", "", "0")
    assert 'data-state="missing"' in html


def test_saving_and_marking_current_makes_the_translation_current(login_as, story):
    translator = login_as("translator")
    response = save(translator, story, "es", title="Inundaciones", body="El río creció.")
    assert response.status_code == 302, page_errors(response)
    translation = translation_of(story, "es")
    assert (translation.title, translation.body_html) == ("Inundaciones", "<p>El río creció.</p>")
    assert (translation.source_title, translation.source_body) == (story.title, story.body)
    page = translator.get(workspace_url(story, "es")).get_data(as_text=True)
    assert "Saved and marked current." in page and 'data-state="current"' in page
    listing = login_as("editor").get("/admin/post/").get_data(as_text=True)
    assert 'data-locale="es" data-state="current"' in listing
    content = translator.get("/admin/translations/content/").get_data(as_text=True)
    row = re.search(rf'<tr data-post="{story.id}">.*?</tr>', content, re.S).group(0)
    assert "out of date" not in row


def test_saving_without_marking_current_keeps_it_out_of_date(login_as, story):
    translator = login_as("translator")
    assert save(translator, story, "es", action="save", title="Borrador", body="A medias").status_code == 302
    assert translation_of(story, "es").source_changed_at is None
    page = translator.get(workspace_url(story, "es")).get_data(as_text=True)
    assert 'data-state="outdated"' in page and "never been marked current" in page


def test_translator_changes_neither_the_original_its_status_nor_its_author(login_as, users, story):
    translator = login_as("translator")
    before = fresh(sa.select(Post).where(Post.id == story.id)).scalar_one()
    original = (before.title, before.body, before.status, before.author_id, before.locale, before.slug)
    extra = {"status": "archived", "author": users["translator"].id, "locale": "zh", "slug": "taken-over"}
    response = save(translator, story, "zh", title="洪水", body="河水上涨。", **extra)
    assert response.status_code == 302
    after = fresh(sa.select(Post).where(Post.id == story.id)).scalar_one()
    assert (after.title, after.body, after.status, after.author_id, after.locale, after.slug) == original
    assert translator.get(f"/admin/post/edit/?id={story.id}").status_code == 403
    assert (
        translator.post(f"/admin/post/edit/?id={story.id}", data={"csrf_token": translator.csrf()}).status_code == 403
    )


def test_only_the_translators_languages_are_offered_and_open(login_as, users, story):
    users["translator"].languages = "es"
    db.session.commit()
    translator = login_as("translator")
    content = translator.get("/admin/translations/content/").get_data(as_text=True)
    assert f"/content/{story.id}/es/" in content and f"/content/{story.id}/zh/" not in content
    assert translator.get(workspace_url(story, "es")).status_code == 200
    assert translator.get(workspace_url(story, "zh")).status_code == 403
    refused = translator.post(workspace_url(story, "zh"), data={"csrf_token": translator.csrf(), "title": "x"})
    assert refused.status_code == 403 and translation_of(story, "zh") is None


def test_default_languages_are_every_site_language_but_the_default(login_as, story):
    translator = login_as("translator")
    assert translator.get(workspace_url(story, "zh")).status_code == 200
    assert translator.get(workspace_url(story, "es")).status_code == 200
    assert translator.get(workspace_url(story, "en")).status_code == 404  # the original's own language


def test_administrator_sets_a_translators_languages(login_as, users):
    admin = login_as("administrator")
    url = f"/admin/user/edit/?id={users['translator'].id}"
    response = admin.edit(url, {"languages": ["zh"]})
    assert response.status_code == 302, page_errors(response)
    assert fresh(sa.select(User.languages).where(User.id == users["translator"].id)).scalar_one() == "zh"
    response = admin.edit(url, {"languages": ["fr"]})
    assert response.status_code == 200, "an unknown language is a form error"
    assert "valid choice" in response.get_data(as_text=True), page_errors(response)


@pytest.mark.parametrize("status", ["draft", "review", "archived"])
def test_posts_not_published_are_not_open_to_translators(login_as, users, status):
    post = make_post(users["author"], status)
    assert login_as("translator").get(workspace_url(post, "es")).status_code == 404


@pytest.mark.parametrize("role", ["reader", "author", "editor", "moderator"])
def test_roles_without_translate_are_refused(login_as, role, story):
    assert login_as(role).get(workspace_url(story, "es")).status_code == 403


def test_unknown_post_or_language_is_a_404(login_as, story):
    translator = login_as("translator")
    assert translator.get("/admin/translations/content/999999/es/").status_code == 404
    assert translator.get(workspace_url(story, "fr")).status_code == 404


def test_changes_to_the_original_since_marked_current_are_highlighted(login_as, story):
    translator = login_as("translator")
    save(translator, story, "es", title="Inundaciones", body="El río creció.")
    editor = login_as("editor")
    response = editor.edit(
        f"/admin/post/edit/?id={story.id}",
        {"title": "Floods in the north", "body": "The river rose fast.\n\nRoads shut."},
    )
    assert response.status_code == 302, page_errors(response)
    html = translator.get(workspace_url(story, "es")).get_data(as_text=True)
    assert 'data-state="outdated"' in html
    title = re.search(r'id="diff-title">(.*?)</div>', html, re.S).group(1)
    body = re.search(r'id="diff-body">(.*?)</div>', html, re.S).group(1)
    assert "<del>valley</del><ins>north</ins>" in title
    assert "The river <del>rose.</del><ins>rose fast.</ins>" in body
    assert "Roads shut." in body
    assert save(translator, story, "es", body="El río creció rápido.").status_code == 302
    html = translator.get(workspace_url(story, "es")).get_data(as_text=True)
    assert 'data-state="current"' in html and "<ins>" not in html


def test_a_concurrent_save_is_refused_with_409_and_nothing_typed_is_lost(login_as, story):
    make_translation(story, "es", title="Primera", body="v1")
    first, second = login_as("translator"), login_as("administrator")
    opened = first.open_form(workspace_url(story, "es"))
    assert save(second, story, "es", title="Segunda", body="their text").status_code == 302
    response = save(first, story, "es", form=opened, title="Mía", body="my text")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else saved this translation" in html
    form = form_values(html)
    assert (form["title"], form["body"]) == ("Mía", "my text")  # what was typed is still in the form
    assert "their text" in html[html.index('id="translation-conflict"') :]
    assert (translation_of(story, "es").title, translation_of(story, "es").body) == ("Segunda", "their text")
    again = first.post(workspace_url(story, "es"), data={**form, "action": "current"})  # a deliberate overwrite
    assert again.status_code == 302
    assert translation_of(story, "es").body == "my text"


def test_a_save_over_a_translation_deleted_since_it_was_opened_is_refused_with_409(login_as, story):
    """An editor deleted the translation in the post form while the translator worked on it: the translator's save
    made it again without a word. It is refused, the text kept; saving again is a deliberate choice."""
    make_translation(story, "es", title="Inundaciones", body="Viejo")
    translator = login_as("translator")
    opened = translator.open_form(workspace_url(story, "es"))
    assert login_as("editor").edit(f"/admin/post/edit/?id={story.id}", {"del-translations-0": "y"}).status_code == 302
    response = save(translator, story, "es", form=opened, action="save", body="Nuevo")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This translation was deleted after you opened it." in html
    assert form_values(html)["body"] == "Nuevo" and translation_of(story, "es") is None
    again = translator.post(workspace_url(story, "es"), data={**form_values(html), "action": "save"})
    assert again.status_code == 302 and translation_of(story, "es").body == "Nuevo"


@pytest.mark.parametrize("change", ["review", "delete"])
def test_a_save_after_the_post_left_the_translators_reach_shows_the_typed_text_back(login_as, story, change):
    """The post was sent back to review (or deleted) while the translator typed: their save was a bare 404 and the
    text was gone. It is shown back with a 409, to copy."""
    translator = login_as("translator")
    opened = translator.open_form(workspace_url(story, "es"))
    editor = login_as("administrator" if change == "delete" else "editor")
    changed = editor.post(
        "/admin/post/action/", data={"action": change, "rowid": [story.id], "csrf_token": editor.csrf()}
    )
    assert changed.status_code == 302
    response = save(
        translator, story, "es", form=opened, action="save", title="Inundaciones", body="Un texto traducido"
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Your text was not saved: copy it from below to keep it." in html
    assert 'value="Inundaciones"' in html and ">Un texto traducido</textarea>" in html
    assert translator.get(workspace_url(story, "es")).status_code == 404
    assert translation_of(story, "es") is None


def test_two_first_translations_at_once_do_not_overwrite_each_other(login_as, story):
    first, second = login_as("translator"), login_as("administrator")
    opened = first.open_form(workspace_url(story, "zh"))
    assert save(second, story, "zh", title="先", body="theirs").status_code == 302
    response = save(first, story, "zh", form=opened, title="后", body="mine")
    assert response.status_code == 409
    assert translation_of(story, "zh").body == "theirs"


def test_marking_current_after_the_original_changed_is_refused_until_reviewed(login_as, story):
    make_translation(story, "es", title="Inundaciones", body="El río creció.")
    translator = login_as("translator")
    opened = translator.open_form(workspace_url(story, "es"))
    login_as("editor").edit(f"/admin/post/edit/?id={story.id}", {"body": "The river rose again."})
    response = save(translator, story, "es", form=opened, body="El río creció otra vez.")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "The original changed while you were translating" in html and "<ins>" in html
    assert translation_of(story, "es").body == "El río creció."  # nothing was saved
    form = form_values(html)
    assert form["body"] == "El río creció otra vez."
    assert translator.post(workspace_url(story, "es"), data={**form, "action": "current"}).status_code == 302
    assert translation_of(story, "es").source_body == "The river rose again."


def test_an_editors_stale_post_form_cannot_write_an_old_translation_back(login_as, story):
    make_translation(story, "es", title="Inundaciones", body="v1")
    editor = login_as("editor")
    opened = editor.open_form(f"/admin/post/edit/?id={story.id}")
    assert save(login_as("translator"), story, "es", body="v2 by the translator").status_code == 302
    response = editor.post(f"/admin/post/edit/?id={story.id}", data={**opened, "title": "Changed"})
    assert response.status_code == 200
    assert "changed by someone else" in response.get_data(as_text=True)
    assert translation_of(story, "es").body == "v2 by the translator"


@pytest.mark.parametrize(("length", "status"), [(255, 302), (256, 400)])
def test_a_title_of_the_column_length_is_saved_and_one_more_refused(login_as, story, length, status):
    response = save(login_as("translator"), story, "es", title="t" * length, body="b")
    assert response.status_code == status
    if status == 400:
        assert "longer than 255 characters" in response.get_data(as_text=True)
        assert translation_of(story, "es") is None


def test_an_empty_title_is_refused_and_the_body_kept_in_the_form(login_as, story):
    response = save(login_as("translator"), story, "es", title="  ", body="Cuerpo")
    assert response.status_code == 400
    assert "A translation needs a title." in response.get_data(as_text=True)
    assert form_values(response.get_data(as_text=True))["body"] == "Cuerpo"


def test_a_title_holding_a_control_character_is_refused_and_the_body_kept(login_as, story):
    response = save(login_as("translator"), story, "es", title="Inunda\x1bciones", body="Cuerpo")
    assert response.status_code == 400
    assert "A title is one line of letters, digits, spaces and punctuation." in response.get_data(as_text=True)
    assert form_values(response.get_data(as_text=True))["body"] == "Cuerpo"
    assert translation_of(story, "es") is None
