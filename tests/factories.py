"""Small builders for rows the tests need."""

from cms.extensions import db
from cms.markup import render_comment, render_markdown
from cms.models import Comment, Follow, Post, PostTranslation, User, utcnow
from cms.posts import mark_current

_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


def make_post(author: User, status: str = "draft", title: str | None = None, body: str = "Some *text*.", **kw) -> Post:
    n = _next()
    post = Post(
        title=title or f"Post {n}",
        slug=kw.pop("slug", f"post-{n}"),
        body=body,
        body_html=render_markdown(body),
        status=status,
        author=author,
        published_at=kw.pop("published_at", utcnow() if status == "published" else None),
        **kw,
    )
    db.session.add(post)
    db.session.commit()
    return post


def make_comment(author: User, post: Post, body: str = "Nice post.", status: str = "pending") -> Comment:
    comment = Comment(body=body, body_html=render_comment(body), author=author, post=post, status=status)
    db.session.add(comment)
    db.session.commit()
    return comment


def make_follow(follower: User, followed: User) -> Follow:
    follow = Follow(follower=follower, followed=followed)
    db.session.add(follow)
    db.session.commit()
    return follow


def make_translation(post: Post, locale: str, title: str = "Traducción", body: str = "Texto.", current: bool = True):
    """A translation of `post`; `current`: marked current against the original's text as it is now."""
    translation = PostTranslation(post=post, locale=locale, title=title, body=body, body_html=render_markdown(body))
    db.session.add(translation)  # before reading the post: its expired columns load with an autoflush
    if current:
        mark_current(translation, post)
    db.session.commit()
    return translation
