"""Every GET route of the URL map, its variables filled with rows that exist: for tests that sweep the whole app."""

import io

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from cms.extensions import db
from cms.media import save_upload
from cms.models import PostStatus, Role
from tests.factories import make_comment, make_follow, make_post
from tests.images import png

STATIC_ENDPOINTS = {"static", "admin.static", "security.static"}
# Flask-Admin views that show one row take its id from the query string.
ROW_VIEWS = ("edit_view", "details_view", "revisions_view")


def make_sample_rows(users) -> tuple[dict, dict]:
    """A published post with a comment and an image, a follow: the URL variables and, per console view, a row id."""
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Swept")
    comment = make_comment(users["reader"], post)
    follow = make_follow(users["reader"], users["author"])
    media = save_upload(FileStorage(io.BytesIO(png()), filename="swept.png"), users["editor"])
    role = db.session.scalar(sa.select(Role).where(Role.name == "Editor"))
    variables = {"locale": "en", "slug": post.slug, "username": "author", "post_id": post.id, "export_type": "csv",
                 "job_id": "0" * 32, "kind": "csv", "token": "x", "filename": media.file_name}  # fmt: skip
    ids = {"post": post.id, "comment": comment.id, "user": users["editor"].id, "media": media.id, "role": role.id,
           "follow": f"{follow.follower_id},{follow.followed_id}"}  # fmt: skip
    return variables, ids


def get_routes(app, variables: dict, ids: dict | None = None) -> list[str]:
    """Every GET route but static files; a row view gets `?id=` of its row when `ids` names one."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in STATIC_ENDPOINTS:
            continue
        values = {name: variables.get(name, "x") for name in rule.arguments}
        try:
            url = rule.build(values, append_unknown=False)[1]
        except Exception:  # noqa: S112 (a converter refused the value; the route is covered by its own tests)
            continue
        view, _, name = rule.endpoint.rpartition(".")
        if ids and view in ids and name in ROW_VIEWS:
            url = f"{url}?id={ids[view]}"
        urls.append(url)
    return sorted(set(urls))
