"""Public pages: the front page, a post with its approved comments, and commenting."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_security import auth_required, current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from cms.comments import CommentError, add_comment, may_comment
from cms.extensions import db
from cms.models import Comment, Post
from cms.posts import public_posts, public_redirect
from cms.public.blueprint import bp
from cms.public.forms import CommentForm

PAGE_SIZE = 10


@bp.route("/")
def index():
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    pagination = db.paginate(public_posts().options(selectinload(Post.author)), page=page, per_page=PAGE_SIZE)
    return render_template("public/index.html", pagination=pagination)


def _render_post(slug: str, form: CommentForm):
    post = db.session.scalar(public_posts().where(Post.slug == slug))
    if post is None:
        moved = public_redirect(slug)
        if moved is None:
            abort(404)
        return redirect(url_for("public.post", slug=moved.slug), 301)
    visible = Comment.status == "approved"
    if current_user.is_authenticated:
        # Readers see their own comments while they wait for moderation.
        visible = or_(visible, (Comment.author_id == current_user.id) & (Comment.status == "pending"))
    comments = db.session.scalars(
        select(Comment)
        .where(Comment.post_id == post.id, visible)
        .options(selectinload(Comment.author))
        .order_by(Comment.created_at, Comment.id)
    ).all()
    commentable = current_user.is_authenticated and may_comment(current_user)
    return render_template("public/post.html", post=post, comments=comments, form=form, commentable=commentable)


@bp.route("/posts/<slug>")
def post(slug: str):
    return _render_post(slug, CommentForm())


@bp.route("/posts/<slug>/comments", methods=["POST"])
@auth_required()
def comment(slug: str):
    post = db.first_or_404(public_posts().where(Post.slug == slug))
    if not may_comment(current_user):
        abort(403, gettext("Confirm your email address to comment."))
    form = CommentForm()
    if not form.validate_on_submit():
        return _render_post(slug, form), 400
    try:
        new = add_comment(current_user, post, form.body.data)
    except CommentError as exc:
        form.body.errors = [str(exc)]
        return _render_post(slug, form), 400
    if new.status == "pending":
        flash(gettext("Thank you. Your comment will appear once a moderator has approved it."), "success")
    else:
        flash(gettext("Your comment was published."), "success")
    return redirect(url_for("public.post", slug=slug, _anchor=f"comment-{new.id}"))
