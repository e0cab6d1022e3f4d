"""/api/v1/posts, /api/v1/posts/<id>, /api/v1/posts/<id>/comments: published content only, paginated,
with ETag / 304 and JSON errors."""

from flask import abort, current_app, jsonify, request, url_for

from cms.api import bp
from cms.content import approved_comments, latest_change, localise, public_post_by_id, with_content
from cms.extensions import db
from cms.locale import supported_locales
from cms.page_cache import LIST_ARGUMENTS, cached_page
from cms.posts import public_posts
from cms.routing import past_any_row

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def _int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"'{name}' must be a whole number.")
    if value < low or (high is not None and value > high):
        abort(400, f"'{name}' must be between {low} and {high}." if high else f"'{name}' must be at least {low}.")
    return value


def _locale_arg() -> str:
    locale = request.args.get("locale", current_app.config["DEFAULT_LOCALE"])
    if locale not in supported_locales():
        abort(400, f"Unknown locale {locale!r}; use one of {', '.join(supported_locales())}.")
    return locale


def _page(query, endpoint: str, **url_args):
    page = _int_arg("page", 1, 1)
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    if past_any_row(page, per_page):
        abort(404, "There is no such page.")
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if page > 1 and page > pagination.pages:
        abort(404, "There is no such page.")

    def link(number):
        return url_for(endpoint, page=number, per_page=per_page, _external=True, **url_args)

    links = {"self": link(page), "first": link(1), "last": link(max(pagination.pages, 1))}
    if pagination.has_next:
        links["next"] = link(page + 1)
    if pagination.has_prev:
        links["prev"] = link(page - 1)
    meta = {"page": page, "per_page": per_page, "total": pagination.total, "pages": pagination.pages, "links": links}
    return pagination.items, meta


def _post_json(post, locale: str, full: bool) -> dict:
    entry = localise(post, locale)
    data = {
        "id": post.id,
        "slug": post.slug,
        "title": entry.title,
        "lang": entry.lang,
        "original_locale": post.locale,
        "available_locales": entry.available,
        "author": {"username": post.author.username, "name": post.author.display_name},
        "published_at": post.published_at.isoformat() + "Z",
        "updated_at": entry.last_modified.isoformat() + "Z",
        "url": url_for("public.post", locale=locale, slug=post.slug, _external=True),
        "api_url": url_for("api.post", post_id=post.id, _external=True),
    }
    if full:
        data["body_html"] = entry.body_html
        data["comments_url"] = url_for("api.post_comments", post_id=post.id, _external=True)
    return data


@bp.route("/posts")
@cached_page(arguments=("page", "per_page", "locale"))
def posts():
    locale = _locale_arg()
    query = with_content(public_posts())
    items, meta = _page(query, "api.posts", locale=locale)
    return jsonify(items=[_post_json(p, locale, full=False) for p in items], **meta), latest_change(query)


@bp.route("/posts/<int:post_id>")
@cached_page(arguments=("locale",))
def post(post_id: int):
    locale = _locale_arg()
    found = public_post_by_id(post_id) or abort(404, "No published post has that id.")
    return jsonify(_post_json(found, locale, full=True)), localise(found, locale).last_modified


@bp.route("/posts/<int:post_id>/comments")
@cached_page(arguments=LIST_ARGUMENTS)
def post_comments(post_id: int):
    public_post_by_id(post_id) or abort(404, "No published post has that id.")
    items, meta = _page(approved_comments(post_id), "api.post_comments", post_id=post_id)
    comments = [
        {
            "id": c.id,
            "author": {"username": c.author.username, "name": c.author.display_name},
            "created_at": c.created_at.isoformat() + "Z",
            "body_html": c.body_html,
        }
        for c in items
    ]
    return jsonify(items=comments, **meta)
