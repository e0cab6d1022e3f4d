"""Demo and bulk data: one account per role for trying the product, and large sets for benchmarks."""

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

from faker import Faker
from flask_security import hash_password
from markupsafe import escape
from sqlalchemy import func, insert, select

from cms.accounts import create_user, find_role
from cms.extensions import db
from cms.markup import render_markdown
from cms.models import Comment, CommentStatus, Follow, Post, PostStatus, Role, User, roles_users, utcnow
from cms.permissions import DEFAULT_ROLES

# In the order of the weights the seed draws them with.
SEED_POST_STATUSES = [PostStatus.PUBLISHED, PostStatus.DRAFT, PostStatus.REVIEW, PostStatus.ARCHIVED]
SEED_COMMENT_STATUSES = [CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.HIDDEN]

DEMO_PASSWORD = "demo-password"
BATCH = 5_000

Progress = Callable[[str, int], None]  # (what, rows just written)


def _no_progress(what: str, rows: int) -> None:
    pass


def demo_accounts() -> list[tuple[str, str, str]]:
    """Create (once) one confirmed account per default role; returns (role, email, password)."""
    accounts = []
    for role_name in DEFAULT_ROLES:
        email = f"{role_name.lower()}@example.com"
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            create_user(email, DEMO_PASSWORD, [role_name], username=role_name.lower())
        accounts.append((role_name, email, DEMO_PASSWORD))
    return accounts


def _batches(total: int) -> Iterator[int]:
    done = 0
    while done < total:
        size = min(BATCH, total - done)
        yield size
        done += size


def seed_bulk(users: int, posts: int, comments: int, follows: int, progress: Progress = _no_progress, seed: int = 1):
    """Insert large data sets with multi-row INSERTs, reusing one password hash and a pool of texts."""
    fake = Faker()
    Faker.seed(seed)
    rng = random.Random(seed)
    now = utcnow()
    password = hash_password(DEMO_PASSWORD)
    sentences = [fake.sentence(nb_words=12) for _ in range(500)]
    paragraphs = ["\n\n".join(fake.paragraphs(nb=4)) for _ in range(100)]
    paragraph_html = [render_markdown(p) for p in paragraphs]
    first_new_user = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    reader = find_role("Reader")
    author = find_role("Author")

    for size in _batches(users):
        start = (db.session.scalar(select(func.max(User.id))) or 0) + 1
        rows = [
            {
                "id": start + i,
                "email": f"user{start + i}@example.org",
                "username": f"user{start + i}",
                "password": password,
                "active": True,
                "confirmed_at": now,
                "fs_uniquifier": uuid.uuid4().hex,
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
        progress("users", size)

    user_ids = db.session.scalars(select(User.id)).all()
    writers = (
        db.session.scalars(
            select(roles_users.c.user_id)
            .join(Role, Role.id == roles_users.c.role_id)
            .where(Role.permissions.op("&")(4) != 0)
        ).all()
        or user_ids
    )
    if posts and not user_ids:
        raise ValueError("Seeding posts needs at least one user.")

    for size in _batches(posts):
        start = (db.session.scalar(select(func.max(Post.id))) or 0) + 1
        rows = []
        for i in range(size):
            n = rng.randrange(len(paragraphs))
            created = now - timedelta(minutes=rng.randint(60, 60 * 24 * 700))
            status = rng.choices(SEED_POST_STATUSES, weights=[80, 10, 6, 4])[0]
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
                    "author_id": rng.choice(writers),
                    "created_at": created,
                    "updated_at": created,
                }
            )
        db.session.execute(insert(Post), rows)
        db.session.commit()
        progress("posts", size)

    post_ids = db.session.scalars(select(Post.id).where(Post.status == PostStatus.PUBLISHED)).all()
    if comments and (not post_ids or not user_ids):
        raise ValueError("Seeding comments needs published posts and users.")
    for size in _batches(comments):
        rows = []
        for _ in range(size):
            text = sentences[rng.randrange(len(sentences))]
            rows.append(
                {
                    "body": text,
                    "body_html": f"<p>{escape(text)}</p>",
                    "status": rng.choices(SEED_COMMENT_STATUSES, weights=[85, 10, 5])[0],
                    "author_id": rng.choice(user_ids),
                    "post_id": rng.choice(post_ids),
                    "created_at": now - timedelta(seconds=rng.randint(0, 3600 * 24 * 600)),
                }
            )
        db.session.execute(insert(Comment), rows)
        db.session.commit()
        progress("comments", size)

    existing = set(db.session.execute(select(Follow.follower_id, Follow.followed_id)).tuples())
    for size in _batches(follows):
        rows, attempts = [], 0
        while len(rows) < size and attempts < size * 20:
            attempts += 1
            pair = (rng.choice(user_ids), rng.choice(writers))
            if pair[0] != pair[1] and pair not in existing:
                existing.add(pair)
                rows.append({"follower_id": pair[0], "followed_id": pair[1], "created_at": now})
        if rows:
            db.session.execute(insert(Follow), rows)
            db.session.commit()
        progress("follows", len(rows))
        if len(rows) < size:
            break  # every possible pair is taken
    return first_new_user
