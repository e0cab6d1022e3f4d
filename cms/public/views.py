"""Public pages: the front page and a post with its approved comments."""

from flask import abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cms.extensions import db
from cms.models import Comment, Post
from cms.posts import public_posts
from cms.public import bp

PAGE_SIZE = 10


@bp.route("/")
def index():
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    pagination = db.paginate(public_posts().options(selectinload(Post.author)), page=page, per_page=PAGE_SIZE)
    return render_template("public/index.html", pagination=pagination)


@bp.route("/posts/<slug>")
def post(slug: str):
    post = db.first_or_404(public_posts().where(Post.slug == slug))
    comments = db.session.scalars(
        select(Comment)
        .where(Comment.post_id == post.id, Comment.status == "approved")
        .options(selectinload(Comment.author))
        .order_by(Comment.created_at)
    ).all()
    return render_template("public/post.html", post=post, comments=comments)
