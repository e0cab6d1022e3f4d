"""Public pages under /<locale>/: posts, authors, comments, follows and the reader's profile."""

import unicodedata

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_security import auth_required, current_user
from sqlalchemy import func, select

from cms.comments import CommentError, add_comment, may_comment
from cms.content import (
    latest_change,
    localise,
    posts_by,
    public_post_by_slug,
    visible_comments,
    with_content,
)
from cms.domain import is_blank
from cms.extensions import db
from cms.follows import (
    FollowError,
    follow,
    followed_by,
    follower_count,
    followers_of,
    following_count,
    following_feed,
    is_following,
    unfollow,
)
from cms.locale import supported_locales
from cms.models import Comment, CommentStatus, User
from cms.page_cache import LIST_ARGUMENTS, cached_page
from cms.permissions import Perm, can
from cms.posts import public_posts, public_redirect
from cms.public.blueprint import bp
from cms.public.forms import CommentForm, ProfileForm
from cms.routing import past_any_row

PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


def page_args() -> tuple[int, int]:
    """?page= and ?per_page= for lists; pages before the first are 404, like pages after the last (those past any
    row a table can hold too, before the database is asked)."""
    page = request.args.get("page", 1, type=int)
    per_page = min(max(request.args.get("per_page", PAGE_SIZE, type=int), 1), MAX_PAGE_SIZE)
    if page < 1 or past_any_row(page, per_page):
        abort(404)
    return page, per_page


def paginate(query):
    page, per_page = page_args()
    return db.paginate(query, page=page, per_page=per_page, error_out=True, count=True)


def author_or_404(username: str) -> User:
    """The active account of that username, however its accents were sent: sign-up keeps a username as
    Flask-Security normalises it (NFKD: an e and an accent), while a link typed or pasted mostly has the é."""
    wanted = username.lower()
    forms = [wanted, *{unicodedata.normalize(form, wanted) for form in ("NFC", "NFKD")} - {wanted}]
    found = db.session.scalars(select(User).where(User.username.in_(forms), User.active.is_(True))).all()
    rank = {form: n for n, form in enumerate(forms)}
    return min(found, key=lambda user: rank.get(user.username, len(forms)), default=None) or abort(404)


@bp.route("/")
@cached_page(arguments=LIST_ARGUMENTS)
def index():
    query = with_content(public_posts())
    pagination = paginate(query)
    posts = [localise(post, g.locale) for post in pagination.items]
    return render_template("public/index.html", pagination=pagination, posts=posts), latest_change(query)


def _render_post(post, form: CommentForm | None, status: int = 200):
    """The post page and when it last changed (the post, its translations, its newest shown comment, its comments'
    latest moderation)."""
    viewer = current_user if current_user.is_authenticated else None
    comments = db.session.scalars(visible_comments(post, viewer)).all()
    entry = localise(post, g.locale)
    commentable = viewer is not None and may_comment(viewer)
    page = render_template(
        "public/post.html",
        entry=entry,
        comments=comments,
        # Only a reader who may comment gets a form (and so a CSRF token and a session cookie).
        form=(form or CommentForm()) if commentable else None,
        commentable=commentable,
    )
    # A moderation shows or hides an older comment: its time counts too, for readers who ask If-Modified-Since.
    moderated = db.session.scalar(select(func.max(Comment.moderated_at)).where(Comment.post_id == post.id))
    return (page, status), max([entry.last_modified, *(c.created_at for c in comments), *filter(None, [moderated])])


@bp.route("/posts/<slug>")
@cached_page
def post(slug: str):
    post = public_post_by_slug(slug)
    if post is None or post.slug != slug:  # MariaDB's collation finds Café-au-lait as cafe-au-lait: one address
        moved = post or public_redirect(slug)
        if moved is None:
            abort(404)
        return redirect(url_for("public.post", slug=moved.slug), 301)
    (page, _), last_modified = _render_post(post, None)
    return page, last_modified


@bp.route("/posts/<slug>/comments", methods=["POST"])
@auth_required()
def comment(slug: str):
    # A page opened before the post's slug changed still sends its comment to the old address, which the post's
    # page now redirects from: the comment goes to that post, not lost to a 404.
    post = public_post_by_slug(slug) or public_redirect(slug) or abort(404)
    if not may_comment(current_user):
        abort(403, gettext("Confirm your email address to comment."))
    form = CommentForm()
    if not form.validate_on_submit():
        return _render_post(post, form, 400)[0]
    try:
        new = add_comment(current_user, post, form.body.data)
    except CommentError as exc:
        form.body.errors = [str(exc)]
        return _render_post(post, form, 400)[0]
    if new.status == CommentStatus.PENDING:
        flash(gettext("Thank you. Your comment will appear once a moderator has approved it."), "success")
    else:
        flash(gettext("Your comment was published."), "success")
    return redirect(url_for("public.post", slug=post.slug, _anchor=f"comment-{new.id}"))


@bp.route("/authors/<username>")
@cached_page(arguments=LIST_ARGUMENTS)
def author(username: str):
    person = author_or_404(username)
    query = posts_by(person)
    pagination = paginate(query)
    page = render_template(
        "public/author.html",
        person=person,
        pagination=pagination,
        posts=[localise(p, g.locale) for p in pagination.items],
        followers=follower_count(person),
        following=following_count(person),
        is_following=current_user.is_authenticated and is_following(current_user, person),
        may_follow=current_user.is_authenticated and can(Perm.FOLLOW) and current_user.id != person.id,
    )
    return page, latest_change(query)


@bp.route("/authors/<username>/followers")
@cached_page(arguments=LIST_ARGUMENTS)
def followers(username: str):
    person = author_or_404(username)
    return render_template(
        "public/people.html", person=person, pagination=paginate(followers_of(person)), kind="followers"
    )


@bp.route("/authors/<username>/following")
@cached_page(arguments=LIST_ARGUMENTS)
def following(username: str):
    person = author_or_404(username)
    return render_template(
        "public/people.html", person=person, pagination=paginate(followed_by(person)), kind="following"
    )


@bp.route("/authors/<username>/follow", methods=["POST"])
@auth_required()
def follow_author(username: str):
    person = author_or_404(username)
    if not can(Perm.FOLLOW):
        abort(403)
    try:
        if follow(current_user, person):
            flash(gettext("You now follow %(name)s.", name=person.display_name), "success")
    except FollowError as exc:
        abort(400, str(exc))
    return redirect(url_for("public.author", username=person.username))


@bp.route("/authors/<username>/unfollow", methods=["POST"])
@auth_required()
def unfollow_author(username: str):
    person = author_or_404(username)
    if unfollow(current_user, person):
        flash(gettext("You no longer follow %(name)s.", name=person.display_name), "success")
    return redirect(url_for("public.author", username=person.username))


@bp.route("/following")
@auth_required()
def following_posts():
    pagination = paginate(following_feed(current_user))
    posts = [localise(post, g.locale) for post in pagination.items]
    return render_template("public/following.html", pagination=pagination, posts=posts)


@bp.route("/profile", methods=["GET", "POST"])
@auth_required()
def profile():
    form = ProfileForm(obj=current_user)
    form.locale.choices = [("", gettext("As my browser says"))] + [(code, code) for code in supported_locales()]
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("public/profile.html", form=form), 400
        current_user.name = None if is_blank(form.name.data) else form.name.data.strip()
        current_user.about_me = form.about_me.data or None
        current_user.locale = form.locale.data or None
        db.session.commit()
        flash(gettext("Your profile was saved."), "success")
        return redirect(url_for("public.profile", locale=current_user.locale or g.locale))
    return render_template("public/profile.html", form=form)
