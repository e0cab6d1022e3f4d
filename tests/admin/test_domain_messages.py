"""A rule's refusal reaches the console in the user's language: services raise lazily translated messages."""

import pytest

from cms.extensions import db
from cms.models import PostStatus
from tests.factories import make_post


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("zh", "只有拥有发布权限的编辑才能发布、撤回或归档文章。"),
        ("es", "Solo los editores con permiso de publicación pueden publicar, despublicar o archivar una entrada."),
        ("en", "Only editors with the publish permission can publish, unpublish or archive a post."),
    ],
)
def test_a_refused_status_change_is_explained_in_the_authors_language(login_as, users, locale, message):
    users["author"].locale = locale
    db.session.commit()
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Live")
    response = login_as("author").submit(
        f"/admin/post/edit/?id={post.id}", {"title": "Live", "body": "x", "status": "draft", "version": post.version}
    )
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
