"""The post form in a real browser: what the browser itself lets through (required fields, file sizes) and what
the form fills in for the writer."""

import pytest
import sqlalchemy as sa

from cms.models import Post
from tests.support.browser import sign_in
from tests.support.database import fresh

pytestmark = pytest.mark.browser


def test_a_post_with_a_chinese_title_saves_with_the_slug_left_empty(page, users):
    sign_in(page, "editor@example.com")
    page.goto("/admin/post/new/")
    assert page.get_attribute("#slug", "required") is None
    page.fill("#title", "编辑部的第一周")
    page.fill("#body", "新的系统上线了。")
    page.select_option("#status", "published", force=True)
    page.click("input[type=submit][value=Save]")
    page.wait_for_selector(".alert-success")
    post = fresh(sa.select(Post)).scalar_one()
    assert post.title == "编辑部的第一周"
    assert post.slug == "bian-ji-bu-de-di-yi-zhou"
    page.goto(f"/en/posts/{post.slug}")
    assert page.inner_text("h1") == "编辑部的第一周"


def test_the_author_is_the_signed_in_editor_unless_changed(page, users):
    sign_in(page, "editor@example.com")
    page.goto("/admin/post/new/")
    assert page.inner_text("#s2id_author .select2-chosen") == "editor"
    assert page.inner_text("#s2id_featured_image .select2-chosen") == "Type an image's name"
    page.fill("#title", "Mine by default")
    page.click("input[type=submit][value=Save]")
    page.wait_for_selector(".alert-success")
    page.goto("/admin/post/new/")
    page.fill("#title", "Written for the author")
    page.click("#s2id_author a")
    page.keyboard.type("auth")
    page.click(".select2-result-label:has-text('author')")
    page.click("input[type=submit][value=Save]")
    page.wait_for_selector(".alert-success")
    authors = dict(fresh(sa.select(Post.title, Post.author_id)).all())
    assert authors == {"Mine by default": users["editor"].id, "Written for the author": users["author"].id}


def test_a_title_of_only_spaces_is_refused_on_the_form(page, users):
    sign_in(page, "author@example.com")
    page.goto("/admin/post/new/")
    page.fill("#title", "   ")
    page.fill("#body", "Kept while the title is fixed.")
    page.click("input[type=submit][value=Save]")
    page.wait_for_selector("text=A post needs a title: spaces alone are not one.")
    assert page.input_value("#body") == "Kept while the title is fixed."
    assert fresh(sa.select(sa.func.count()).select_from(Post)).scalar() == 0
