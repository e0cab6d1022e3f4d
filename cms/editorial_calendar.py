"""The editorial calendar: a month of scheduled and published posts, day by day, in each language they exist in."""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import load_only, selectinload

from cms import policies
from cms.domain import DomainError
from cms.extensions import db
from cms.models import Post, PostStatus, PostTranslation, User, utcnow
from cms.posts import is_current, readable_in

# Posts listed in one day's cell; the rest are a link to the post list of that day.
DAY_POSTS = 8
MONTH = re.compile(r"(\d{4})-(\d{2})")


class CalendarError(DomainError):
    """A month or language the calendar cannot show; the message says what it expects."""


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str | None) -> Month:
        """`YYYY-MM` (None or empty: this month, UTC)."""
        if not text:
            today = utcnow().date()
            return cls(today.year, today.month)
        found = MONTH.fullmatch(text.strip())
        if not found or not (1 <= int(found[1]) and 1 <= int(found[2]) <= 12):
            raise CalendarError(_l("Give the month as YYYY-MM, for example 2026-11."))
        return cls(int(found[1]), int(found[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> datetime:
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime | None:
        """The first moment of the next month (None after December 9999)."""
        following = self.next
        return following.first if following else None

    @property
    def previous(self) -> Month | None:
        if (self.year, self.month) == (1, 1):
            return None
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month | None:
        if (self.year, self.month) == (9999, 12):
            return None
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def weeks(self) -> list[list[date | None]]:
        """The month's weeks, Monday first; days of the neighbouring months are None."""
        days = calendar.Calendar(firstweekday=0).monthdays2calendar(self.year, self.month)
        return [[date(self.year, self.month, day) if day else None for day, _ in week] for week in days]


@dataclass(frozen=True)
class Version:
    """One language a post can be read in."""

    locale: str
    title: str
    state: str  # 'original', 'current' or 'outdated'


@dataclass(frozen=True)
class Entry:
    post: Post
    scheduled: bool  # not live yet: it goes live at published_at
    versions: list[Version]  # the original first; only `lang` when the calendar shows one language


@dataclass
class Day:
    day: date
    entries: list[Entry]
    total: int  # posts of the day, listed or not

    @property
    def more(self) -> int:
        return self.total - len(self.entries)


def month_of_posts(
    user: User, month: Month, lang: str | None, site_locales: list[str], day_posts: int | None = None
) -> dict[date, Day]:
    """The days of `month` with scheduled or published posts `user` may see, in `lang` (None: every language),
    each with its first `day_posts` (DAY_POSTS) posts in publishing order and how many it has."""
    day_posts = DAY_POSTS if day_posts is None else day_posts
    if lang is not None and lang not in site_locales:
        raise CalendarError(_l("%(locale)s is not one of the site's languages.", locale=repr(lang)))
    where = [
        Post.status == PostStatus.PUBLISHED,  # the (status, published_at) index serves the month's range
        Post.published_at >= month.first,
        policies.posts.visible_clause(user),
    ]
    if month.end is not None:
        where.append(Post.published_at < month.end)
    if lang is not None:
        where.append(readable_in(lang))
    # First the month's ids and times only (a busy month has thousands), then the listed posts in full.
    stamps = db.session.execute(
        select(Post.id, Post.published_at).where(*where).order_by(Post.published_at, Post.id)
    ).all()
    by_day: dict[date, list[int]] = defaultdict(list)
    for post_id, published_at in stamps:
        by_day[published_at.date()].append(post_id)
    listed = [post_id for ids in by_day.values() for post_id in ids[:day_posts]]
    posts = {
        post.id: post
        for post in db.session.scalars(
            select(Post)
            .where(Post.id.in_(listed))
            .options(
                load_only(Post.id, Post.title, Post.locale, Post.status, Post.published_at, Post.content_changed_at),
                selectinload(Post.translations).load_only(
                    PostTranslation.locale, PostTranslation.title, PostTranslation.source_changed_at
                ),
            )
        )
    }  # fmt: skip
    now = utcnow()
    return {
        day: Day(day, [_entry(posts[i], lang, now) for i in ids[:day_posts] if i in posts], len(ids))
        for day, ids in by_day.items()
    }


def _entry(post: Post, lang: str | None, now: datetime) -> Entry:
    versions = [Version(post.locale, post.title, "original")]
    versions += [
        Version(t.locale, t.title, "current" if is_current(t, post) else "outdated")
        for t in post.translations
        if t.locale != post.locale
    ]
    if lang is not None:
        versions = [version for version in versions if version.locale == lang]
    return Entry(post, post.published_at is not None and post.published_at > now, versions)
