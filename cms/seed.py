"""Demo and bulk data: one account per role for trying the product, and large sets for benchmarks."""

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import click
from flask_security import hash_password
from markupsafe import escape
from sqlalchemy import func, insert, select, update

from cms.accounts import create_user, find_role
from cms.extensions import db
from cms.markup import render_markdown
from cms.models import (
    Comment,
    CommentStatus,
    Follow,
    Post,
    PostStatus,
    PostTranslation,
    Role,
    User,
    roles_users,
    utcnow,
)
from cms.permissions import DEFAULT_ROLES, Perm
from cms.posts import mark_current, unique_slug
from cms.two_factor import enrol_authenticator, must_set_up

if TYPE_CHECKING:
    from faker import Faker

# In the order of the weights the seed draws them with.
SEED_POST_STATUSES = [PostStatus.PUBLISHED, PostStatus.DRAFT, PostStatus.REVIEW, PostStatus.ARCHIVED]
SEED_POST_WEIGHTS = [80, 10, 6, 4]
SEED_COMMENT_STATUSES = [CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.HIDDEN]
SEED_COMMENT_WEIGHTS = [85, 10, 5]
SEED_TABLES = ("users", "posts", "comments", "follows")

DEMO_PASSWORD = "demo-password"
# The demo staff accounts' authenticator key (base32): add it to an authenticator app (or `oathtool --totp -b KEY`)
# to get the sign-in codes. A demo account only, like its password.
DEMO_TOTP_KEY = "NEWSROOMDEMOKEYSTAFFAPPTWOFACTOR"
SEED_NAMESPACE = uuid.UUID("6f1c3a52-5d0e-4c36-9a8e-0b7f2f4d9e11")
BATCH = 5_000

Progress = Callable[[str, int], None]  # (what, rows just written)


def _no_progress(what: str, rows: int) -> None:
    pass


@contextmanager
def progress_bars(totals: dict[str, int]) -> Iterator[Progress]:
    """One click progress bar per table (users, posts, comments, follows), for `seed_bulk(progress=…)`: a table's
    bar ends when the next table starts."""
    current: list[Any] = []  # [table, its bar]

    def finish() -> None:
        if current:
            current[1].__exit__(None, None, None)

    def update(what: str, rows: int) -> None:
        if not current or current[0] != what:
            finish()
            bar = click.progressbar(
                length=totals.get(what, 0), label=f"Seeding {what:<8}", show_pos=True, show_eta=True
            )
            current[:] = [what, bar.__enter__()]
        current[1].update(rows)

    try:
        yield update
    finally:
        finish()


def demo_accounts() -> list[tuple[str, str, str]]:
    """Create (once) one confirmed account per default role, those whose role requires a second factor with the
    authenticator key DEMO_TOTP_KEY (unless they set up their own); returns (role, email, password)."""
    accounts = []
    for role_name in DEFAULT_ROLES:
        email = f"{role_name.lower()}@example.com"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            # The demo password is easy to guess on purpose, so it is set as a hash, past the password rule.
            user = create_user(
                email, "", [role_name], username=role_name.lower(), password_hash=hash_password(DEMO_PASSWORD)
            )
        if must_set_up(user):
            enrol_authenticator(user, DEMO_TOTP_KEY)
        accounts.append((role_name, email, DEMO_PASSWORD))
    return accounts


def already_seeded() -> int:
    """How many posts the database holds: any at all means it has data (seeded or real work) not to add to."""
    return db.session.scalar(select(func.count()).select_from(Post)) or 0


# Texts of the showcase: a translated post in each direction and posts scheduled for later.
SHOWCASE_TRANSLATIONS = {
    "zh": ("{title}（中文版）", "这是本文的中文译本。\n\n{body}"),
    "es": ("{title} (versión en español)", "Esta es la traducción al español.\n\n{body}"),
}
SHOWCASE_CHINESE_POST = (
    "编辑部的第一周",
    "新的编辑部系统上线了。**作者**撰写，**编辑**发布，**审核员**处理评论。",
    "The newsroom's first week",
    "The new newsroom system is live. **Authors** write, **editors** publish, **moderators** handle comments.",
)
SHOWCASE_COMMENTS = [("恭喜上线！", CommentStatus.APPROVED), ("期待更多中文报道。", CommentStatus.PENDING)]
SHOWCASE_SCHEDULED = ("Coming up: the weekend edition", "Scheduled for later: it goes live by itself.")


def seed_showcase(now: datetime | None = None, translated: int = 3) -> None:
    """Rows that show what the product does beyond plain posts: translations into every other language for the
    newest `translated` live posts not yet translated, a post written in Chinese with its English translation and
    comments, and two posts scheduled for the coming days. Written through the ORM, each dated after its post."""
    now = now or utcnow()
    writer = db.session.scalar(select(User).where(User.email == "author@example.com"))
    editor = db.session.scalar(select(User).where(User.email == "editor@example.com")) or writer
    if writer is None or editor is None:
        raise ValueError("The showcase needs the demo accounts: run demo_accounts() first.")
    live = db.session.scalars(
        select(Post)
        .where(Post.status == PostStatus.PUBLISHED, Post.published_at <= now, Post.locale == "en")
        .where(~Post.translations.any())
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(translated)
    ).all()
    for number, post in enumerate(live):
        for locale, (title, body) in SHOWCASE_TRANSLATIONS.items():
            text = body.format(body=post.body)
            translation = PostTranslation(
                locale=locale,
                title=title.format(title=post.title)[:255],
                body=text,
                body_html=render_markdown(text),
                updated_at=max(post.content_changed_at, post.published_at or now),
            )
            mark_current(translation, post)
            if number == 0 and locale == "es":
                # One translation reviewed against an earlier text of its original: the workspace shows the diff.
                translation.source_body = post.body.split("\n\n")[0]
                translation.source_changed_at = post.content_changed_at - timedelta(days=1)
            post.translations.append(translation)
    title, body, en_title, en_body = SHOWCASE_CHINESE_POST
    published = now - timedelta(hours=2)
    chinese = Post(
        title=title, slug=unique_slug(title), body=body, body_html=render_markdown(body), locale="zh",
        status=PostStatus.PUBLISHED, published_at=published, author=writer, created_at=published,
        updated_at=published, content_changed_at=published,
    )  # fmt: skip
    english = PostTranslation(
        locale="en", title=en_title, body=en_body, body_html=render_markdown(en_body), updated_at=now
    )
    mark_current(english, chinese)
    chinese.translations.append(english)
    db.session.add(chinese)
    reader = db.session.scalar(select(User).where(User.email == "reader@example.com")) or writer
    for minutes, (text, status) in enumerate(SHOWCASE_COMMENTS, start=1):
        db.session.add(
            Comment(body=text, body_html=f"<p>{escape(text)}</p>", status=status, author=reader, post=chinese,
                    created_at=published + timedelta(minutes=10 * minutes))
        )  # fmt: skip
    title, body = SHOWCASE_SCHEDULED
    for days in (1, 3):
        db.session.add(
            Post(
                title=f"{title} ({days})", slug=unique_slug(f"{title} {days}"), body=body,
                body_html=render_markdown(body), status=PostStatus.PUBLISHED, published_at=now + timedelta(days=days),
                author=editor, created_at=now, updated_at=now, content_changed_at=now,
            )
        )  # fmt: skip
    db.session.commit()


def _batches(total: int) -> Iterator[int]:
    done = 0
    while done < total:
        size = min(BATCH, total - done)
        yield size
        done += size


class _Draw:
    """Weighted choices drawn from one seeded generator; precomputed weights keep a million draws cheap."""

    def __init__(self, rng: random.Random, values: list, weights: Sequence[int]):
        self.rng, self.values, self.cumulative = rng, values, list(accumulate(weights))

    def __call__(self):
        return self.rng.choices(self.values, cum_weights=self.cumulative)[0]


def seed_bulk(
    users: int,
    posts: int,
    comments: int,
    follows: int,
    progress: Progress = _no_progress,
    seed: int = 1,
    now: datetime | None = None,
) -> int:
    """Insert large data sets with multi-row INSERTs, reusing one password hash and a pool of texts.

    The same `seed` and `now` give the same rows (ids, texts, statuses, dates) on an empty database. Comments go
    to live posts only and are dated between their post's publication and `now`. Returns the first new user id.
    """
    from faker import Faker  # only here: its ~4 MB of modules would sit in every web and worker process

    fake = Faker()
    Faker.seed(seed)
    rng = random.Random(seed)
    now = now or utcnow()
    sentences = [fake.sentence(nb_words=12) for _ in range(500)]
    paragraphs = ["\n\n".join(fake.paragraphs(nb=4)) for _ in range(100)]
    first_new_user = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    # What cannot be seeded is refused before anything is written: the users were committed, then the comments
    # failed, and each retry added as many users again.
    if comments and not posts and not db.session.scalar(select(Post.id).where(Post.is_live).limit(1)):
        raise ValueError("Seeding comments needs published posts: add --posts, or seed posts first.")
    if (comments or follows) and not users and not db.session.scalar(select(User.id).limit(1)):
        raise ValueError("Seeding comments or follows needs users: add --users.")
    _seed_users(users, fake, rng, seed, now, progress)

    user_ids = db.session.scalars(select(User.id).order_by(User.id)).all()
    writers = (
        db.session.scalars(
            select(roles_users.c.user_id)
            .join(Role, Role.id == roles_users.c.role_id)
            .where(Role.permissions.op("&")(int(Perm.WRITE)) != 0)
            .distinct()
            .order_by(roles_users.c.user_id)
        ).all()
        or user_ids
    )
    if posts and not user_ids:
        raise ValueError("Seeding posts needs at least one user.")
    first_new_post = _seed_posts(posts, writers, sentences, paragraphs, rng, now, progress)
    if comments and posts and not db.session.scalar(select(Post.id).where(Post.is_live).limit(1)):
        # A handful of posts all drawn unpublished: the comments would have refused after the posts were written.
        _publish_seeded(first_new_post)
    _seed_comments(comments, user_ids, sentences, rng, now, progress)
    _seed_follows(follows, user_ids, writers, rng, now, progress)
    return first_new_user


def _seed_users(total: int, fake: "Faker", rng: random.Random, seed: int, now: datetime, progress: Progress) -> None:
    if not total:
        return
    password = hash_password(DEMO_PASSWORD)
    reader, author = find_role("Reader"), find_role("Author")
    start = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    for size in _batches(total):
        rows = [
            {
                "id": start + i,
                "email": f"user{start + i}@example.org",
                "username": f"user{start + i}",
                "password": password,
                "active": True,
                "confirmed_at": now,
                # Unique per id, and the same for the same seed (the accounts share a known password anyway).
                "fs_uniquifier": uuid.uuid5(SEED_NAMESPACE, f"{seed}:{start + i}").hex,
                "name": fake.name(),
                "member_since": now - timedelta(days=rng.randint(0, 1500)),
            }
            for i in range(size)
        ]
        db.session.execute(insert(User), rows)
        links = [{"user_id": r["id"], "role_id": reader.id} for r in rows]
        links += [{"user_id": r["id"], "role_id": author.id} for r in rows[::20]]
        db.session.execute(insert(roles_users), links)
        db.session.commit()
        start += size
        progress("users", size)


def _seed_posts(
    total: int,
    writers: Sequence[int],
    sentences: list[str],
    paragraphs: list[str],
    rng: random.Random,
    now: datetime,
    progress: Progress,
) -> int:
    """Seed `total` posts; the first one's id (the next id when none)."""
    first = (db.session.scalar(select(func.max(Post.id))) or 0) + 1
    if not total:
        return first
    paragraph_html = [render_markdown(p) for p in paragraphs]
    status_of = _Draw(rng, SEED_POST_STATUSES, SEED_POST_WEIGHTS)
    start = first
    for size in _batches(total):
        rows = []
        for i in range(size):
            n = rng.randrange(len(paragraphs))
            created = now - timedelta(minutes=rng.randint(60, 60 * 24 * 700))
            status = status_of()
            rows.append(
                {
                    "id": start + i,
                    "title": sentences[rng.randrange(len(sentences))].rstrip("."),
                    "slug": f"post-{start + i}",
                    "body": paragraphs[n],
                    "body_html": paragraph_html[n],
                    "status": status,
                    "published_at": created + timedelta(minutes=30)
                    if status in (PostStatus.PUBLISHED, PostStatus.ARCHIVED)
                    else None,
                    "author_id": writers[rng.randrange(len(writers))],
                    "created_at": created,
                    "updated_at": created,
                    "content_changed_at": created,
                }
            )
        db.session.execute(insert(Post), rows)
        db.session.commit()
        start += size
        progress("posts", size)
    return first


def _publish_seeded(post_id: int) -> None:
    """Publish a seeded post (half an hour after it was written, as the seed dates its published posts)."""
    written = db.session.execute(select(Post.created_at).where(Post.id == post_id)).scalar_one()
    db.session.execute(
        update(Post)
        .where(Post.id == post_id)
        .values(status=PostStatus.PUBLISHED, published_at=written + timedelta(minutes=30))
    )
    db.session.commit()


def _seed_comments(
    total: int, user_ids: Sequence[int], sentences: list[str], rng: random.Random, now: datetime, progress: Progress
) -> None:
    if not total:
        return
    # Live posts only, each with the time it went public: no comment is older than its post.
    live = db.session.execute(
        select(Post.id, func.coalesce(Post.published_at, Post.created_at))
        .where(Post.status == PostStatus.PUBLISHED, Post.published_at <= now)
        .order_by(Post.id)
    ).all()
    if not live or not user_ids:
        raise ValueError("Seeding comments needs published posts and users.")
    posts = [(post_id, since, max((now - since).total_seconds(), 0.0)) for post_id, since in live]
    bodies = [(text, f"<p>{escape(text)}</p>") for text in sentences]
    status_of = _Draw(rng, SEED_COMMENT_STATUSES, SEED_COMMENT_WEIGHTS)
    for size in _batches(total):
        rows = []
        for _ in range(size):
            body, body_html = bodies[rng.randrange(len(bodies))]
            post_id, since, window = posts[rng.randrange(len(posts))]
            rows.append(
                {
                    "body": body,
                    "body_html": body_html,
                    "status": status_of(),
                    "author_id": user_ids[rng.randrange(len(user_ids))],
                    "post_id": post_id,
                    "created_at": since + timedelta(seconds=rng.random() * window),
                }
            )
        db.session.execute(insert(Comment), rows)
        db.session.commit()
        progress("comments", size)


def _seed_follows(
    total: int, user_ids: Sequence[int], writers: Sequence[int], rng: random.Random, now: datetime, progress: Progress
) -> None:
    if not total:
        return
    existing = set(db.session.execute(select(Follow.follower_id, Follow.followed_id)).tuples())
    for size in _batches(total):
        rows: list[dict] = []
        attempts = 0
        while len(rows) < size and attempts < size * 20:
            attempts += 1
            pair = (user_ids[rng.randrange(len(user_ids))], writers[rng.randrange(len(writers))])
            if pair[0] != pair[1] and pair not in existing:
                existing.add(pair)
                rows.append({"follower_id": pair[0], "followed_id": pair[1], "created_at": now})
        if rows:
            db.session.execute(insert(Follow), rows)
            db.session.commit()
        progress("follows", len(rows))
        if len(rows) < size:
            break  # every possible pair is taken
