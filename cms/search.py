"""The console's searches as SQL: every term a case-insensitive substring, found through a full-text index."""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from cms.counting import count_within_limit, hits_in_first
from cms.extensions import db
from cms.models import Comment, Post, User

log = logging.getLogger(__name__)

# The migration fbe713ff82b3 creates them: FTS5 (trigram) on SQLite, Mroonga (bigram) on MariaDB.
SEARCH_TABLES = ("comment_search", "post_search", "user_search")
# FTS5's trigram tokenizer finds a term only from three characters on.
TRIGRAM = 3
FTS5, MROONGA, LIKE = "fts5", "mroonga", "like"

_engines: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
T = TypeVar("T")


@dataclass(frozen=True)
class Searched:
    """A table's searched columns and the search table that indexes them."""

    table: str
    model: type
    columns: tuple[str, ...]
    # Columns with a full-text index of their own on Mroonga, besides the one over all the columns.
    indexed_alone: tuple[str, ...] = ()

    def column(self, name: str):
        return getattr(self.model, name)


COMMENT_BODIES = Searched("comment_search", Comment, ("body",))
POST_TITLES = Searched("post_search", Post, ("title", "slug"))
ACCOUNTS = Searched("user_search", User, ("email", "username", "name"), indexed_alone=("username",))  # c2d6e8f1a4b9


def is_search_table(name: str) -> bool:
    """A search table or one of FTS5's shadow tables (comment_search_data, …): the migration's, not a model's."""
    return any(name == table or name.startswith(f"{table}_") for table in SEARCH_TABLES)


def search_terms(text: str | None) -> list[str]:
    """The whitespace-separated terms, each once (ignoring case), in the order typed."""
    seen: dict[str, str] = {}
    for term in (text or "").split():
        seen.setdefault(term.lower(), term)
    return list(seen.values())


# -- which engine ---------------------------------------------------------------------------------------
def engine_in_use() -> str:
    """FTS5, MROONGA, or LIKE when the search tables are missing (Mroonga not installed when the migration
    ran): decided once per database and logged."""
    engine = db.engine
    kind = _engines.get(engine)
    if kind is None:
        kind = _detect(engine)
        _engines[engine] = kind
        log.info("Console search on %s: %s", engine.dialect.name, kind)
        if kind == LIKE:
            log.warning("No search tables: the console searches with LIKE, which reads every row")
    return kind


def _detect(engine: Engine) -> str:
    names = {"names": list(SEARCH_TABLES)}
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN :names"
            found = conn.scalar(sa.text(query).bindparams(sa.bindparam("names", expanding=True)), names)
            return FTS5 if found == len(SEARCH_TABLES) else LIKE
        query = (
            "SELECT COUNT(*) FROM information_schema.tables t JOIN information_schema.engines e ON e.engine = t.engine "
            "WHERE t.table_schema = DATABASE() AND t.table_name IN :names AND t.engine = 'Mroonga' "
            "AND e.support IN ('YES', 'DEFAULT')"
        )
        found = conn.scalar(sa.text(query).bindparams(sa.bindparam("names", expanding=True)), names)
        return MROONGA if found == len(SEARCH_TABLES) else LIKE


# -- the clauses ----------------------------------------------------------------------------------------
def comment_body_clause(text: str | None):
    """Comments whose body contains every term of `text`, ignoring case (the rows the old
    `lower(body) LIKE '%term%'` search found, read through the index)."""
    return _all_terms(COMMENT_BODIES, search_terms(text))


def post_title_clause(text: str | None):
    """Posts whose title or slug contains each term of `text`, ignoring case."""
    return _all_terms(POST_TITLES, search_terms(text))


def user_clause(text: str | None):
    """Accounts whose email, username or name contains each term of `text`, ignoring case."""
    return _all_terms(ACCOUNTS, search_terms(text))


def contains_clause(searched: Searched, name: str, text: str | None, column=None, key=None):
    """Rows whose column `name` (one of `searched`'s) contains `text` (one term, spaces kept), ignoring case, as a
    clause on `column` and `key` (by default the model's; else those of an aliased join, or a foreign key to the
    row): the search index narrows, and as it also holds the table's other searched columns, the comparison with
    this one decides. The filters "author's username contains" and "post title contains" read every username
    (597 ms) and every title (120-350 ms) with a LIKE.

    A frequent term (`_frequent`: most of the newest rows hold it in one of the searched columns, as "user" every
    seeded username or a single letter) would have a match set of most of the table (380 ms for "user" over the
    50,000 accounts, 1.5 s for "a" over the titles). The column alone is read instead (`column_holders`): when at
    most SEARCH_COMMON_MATCHES rows hold the term there, the clause is their ids; else it is compared on each
    row."""
    term = (text or "").strip()
    if not term:
        return sa.true()
    contained = _contains(searched.column(name) if column is None else column, term)
    row_key = searched.column("id") if key is None else key
    if engine_in_use() == MROONGA and _frequent(searched, [term]):
        holders = column_holders(searched, name, term)
        return contained if holders is None else row_key.in_(holders)
    indexed = _indexed_ids(searched, [term])
    return contained if indexed is None else sa.and_(row_key.in_(indexed), contained)


def column_holders(searched: Searched, name: str, term: str) -> list | None:
    """The ids of the rows whose column `name` contains `term`, read from that column alone (a username's unique
    index holds it with the row's id), when at most SEARCH_COMMON_MATCHES rows hold it; else None (a common term,
    which a page finds along the list's order). Asked through the full-text index, "a" matched every account by its
    email, and the posts filter "author's username contains a" then read every post (205,014 rows, 0.4-1.3 s) to
    find the few authors whose username holds it: their ids are one read of the usernames. Where the column has a
    full-text index of its own (`indexed_alone`, Mroonga), the rows are found through it, and the read stops at the
    limit; the usernames read one by one were 50,007 index entries for "a"."""
    limit = current_app.config["SEARCH_COMMON_MATCHES"]
    key, column = searched.column("id"), searched.column(name)
    where = [_contains(column, term)]
    if name in searched.indexed_alone and engine_in_use() == MROONGA:
        table = search_table(searched)
        key, column = table.c.id, table.c[name]
        where = [mysql.match(column, against=mroonga_phrase(term)).in_boolean_mode(), _contains(column, term)]

    def read() -> list | None:
        found = list(db.session.scalars(select(key).where(*where).limit(limit + 1)))
        return None if len(found) > limit else found

    return _once_per_request(("holders", searched.table, name, term.lower(), limit), read)


def referring_contains_clause(searched: Searched, name: str, text: str | None, foreign_key):
    """Rows whose `foreign_key` refers to a row of `searched` whose column `name` contains `text`: contains_clause
    on the referred table, asked of the referring rows (the filter "post title contains" on the comments).

    A frequent term is tested through each referring row's key (a scalar subquery, which MariaDB does not turn
    into a join), so a page walks the list's order and stops at its rows: as an IN over every matching post, MariaDB
    read every title and then a million comments to sort them (2.2 million rows, 816 ms, for titles holding "a"),
    where the page reads 20 comments and their posts and the capped count about 10,000 of each."""
    term = (text or "").strip()
    key = searched.column("id")
    if term and engine_in_use() == MROONGA and _frequent(searched, [term]):
        matching = select(key).where(key == foreign_key, _contains(searched.column(name), term))
        return matching.scalar_subquery().is_not(None)
    return foreign_key.in_(select(key).where(contains_clause(searched, name, term)))


def comment_page_clause(text: str | None, cap: int | None = None):
    """The comment search for one page of the queue in its order, when the body terms are common (more than
    SEARCH_COMMON_MATCHES comments hold them): each row of the order's index is tested instead, which reads
    about page size ÷ frequency rows rather than every match. None when the terms are rare (comment_clause's
    match set is then the cheaper plan) or no index is in use.

    How common the terms are is their count in the search table, up to `cap` (the list's count cap; at least
    the common threshold): the count the list shows, so a request asks the full-text index once, not twice."""
    terms = search_terms(text)
    if not terms or engine_in_use() != MROONGA:
        return None
    authors = author_ids(terms)
    body_terms = [term for term in terms if term.lower() not in authors]
    if not body_terms or not _common(COMMENT_BODIES, body_terms, cap):
        return None
    return comment_clause(text, use_index=False)


def comment_search_count(text: str | None, cap: int | None) -> tuple[int, bool] | None:
    """How many comments the search alone selects, (count, exact) as `search_count` counts them; None when the
    search names an author or no index is in use."""
    terms = search_terms(text)
    if not terms or engine_in_use() != MROONGA or author_ids(terms):
        return None
    return _counted(COMMENT_BODIES, terms, cap)


def page_clause(searched: Searched, text: str | None, cap: int | None = None):
    """comment_page_clause for a list without author terms (posts by title or slug, accounts): the search tested
    on each row along the list's order when its terms are common, else None."""
    terms = search_terms(text)
    if not terms or engine_in_use() != MROONGA or not _common(searched, terms, cap):
        return None
    return _all_terms(searched, terms, use_index=False)


def search_count(searched: Searched, text: str | None, cap: int | None) -> tuple[int, bool] | None:
    """How many rows the search alone selects, (count, exact): counted in the search table up to the cap, "more
    than the cap" past it; for frequent terms from the rows themselves (`_frequent_count`). None when no index is
    in use."""
    terms = search_terms(text)
    if not terms or engine_in_use() != MROONGA:
        return None
    return _counted(searched, terms, cap)


def _counted(searched: Searched, terms: list[str], cap: int | None) -> tuple[int, bool]:
    """match_count as the list shows it, (count, exact): "more than the cap" past it; frequent terms, which
    match_count leaves uncounted, from the rows (`_frequent_count`)."""
    found = match_count(searched, terms, cap)
    if found is None:
        assert cap is not None
        return _frequent_count(searched, terms, cap)
    return (found, True) if cap is None or found <= cap else (cap, False)


def _common(searched: Searched, terms: list[str], cap: int | None) -> bool:
    """Whether more than SEARCH_COMMON_MATCHES rows hold the terms, or at least SEARCH_COMMON_SHARE of the table's
    rows (`_table_rows`), asked with the list's cap (at least the threshold) so that the list's count is the same
    statement.

    The share: a page of 20 along the list's order then reads about 20 ÷ share rows (2,000 at 1 %), where the
    match set costs a look-up and a sort of every match. A title word in 2.7 % of 100,000 posts (2,686 matches)
    took 31 ms through its match set and 3 ms along the order."""
    limit = current_app.config["SEARCH_COMMON_MATCHES"]
    found = match_count(searched, terms, None if cap is None else max(cap, limit))
    if found is None or found > limit:
        return True
    share = current_app.config["SEARCH_COMMON_SHARE"]
    return share > 0 and found > 0 and found >= share * _table_rows(searched)


def _table_rows(searched: Searched) -> int:
    """About how many rows `searched`'s table holds: the span of its ids (the two ends of the primary key, read
    without counting; rows deleted inside it make it an overestimate), once per request."""
    key = searched.column("id")

    def span() -> int:
        lowest, highest = db.session.execute(select(sa.func.min(key), sa.func.max(key))).one()
        return 0 if lowest is None else highest - lowest + 1

    return _once_per_request(("table_rows", searched.table), span)


def match_count(searched: Searched, terms: list[str], cap: int | None) -> int | None:
    """How many rows of `searched` hold every term, up to cap + 1 (cap None: all), read from the search table alone
    (its copies of the columns serve the exact comparison): once per request and terms (Mroonga's look-up of a
    common term costs tens of ms).

    A term in nearly every row (the domain of every reader's email) would have Mroonga read a match set the size
    of the table: when each of the newest SEARCH_PROBE_ROWS rows holds the terms, the newest cap + 1 rows are read
    instead, which settle the count when each holds them (more than the cap) or the table ends sooner.

    None, with a cap, when the terms are frequent (`_frequent`: a single letter, whose look-up Mroonga makes over
    every word it starts, 68 ms in the benchmark's post titles and 536 ms in its comments): they are common, and
    `_frequent_count` counts them from the rows; the exact count (no cap) is the index's."""

    def count() -> int | None:
        if cap is not None:
            found = _count_in_newest_rows(searched, terms, cap)
            if found is not None:
                return found
            if _frequent(searched, terms):
                return None
        matches = _indexed_ids(searched, terms)
        assert matches is not None
        table = search_table(searched)
        holds = (sa.or_(*(_contains(table.c[name], term) for name in searched.columns)) for term in terms)
        found, exact = count_within_limit(matches.where(*holds), cap)
        return found if exact else found + 1

    key = ("match_count", searched.table, tuple(term.lower() for term in terms), cap)
    return _once_per_request(key, count)


def _count_in_newest_rows(searched: Searched, terms: list[str], cap: int) -> int | None:
    """match_count from the newest rows alone, read along the primary key without the index, or None when they
    do not settle it (or the probe is off: SEARCH_PROBE_ROWS 0)."""
    probe = current_app.config["SEARCH_PROBE_ROWS"]
    if probe <= 0 or _probe_hits(searched, terms) != (probe, probe):
        return None
    holds = _all_terms(searched, terms, use_index=False)
    key = searched.column("id")
    # The oldest id of the newest cap + 1 rows, then how many rows from it on hold the terms: two reads of at most
    # cap + 1 rows, where one statement over a derived table of them would read them twice.
    oldest = db.session.scalar(select(key).order_by(key.desc()).limit(1).offset(cap))
    if oldest is None:  # at most cap rows: counted whole
        return db.session.scalar(select(sa.func.count()).select_from(searched.model).where(holds))
    found = db.session.scalar(select(sa.func.count()).select_from(searched.model).where(key >= oldest, holds))
    return found if found == cap + 1 else None


def _probe_hits(searched: Searched, terms: list[str]) -> tuple[int, int]:
    """Of the newest SEARCH_PROBE_ROWS rows, how many hold the terms and how many were read (fewer in a shorter
    table), read along the primary key without the index: once per request and terms."""
    probe = current_app.config["SEARCH_PROBE_ROWS"]
    key = searched.column("id")

    def read() -> tuple[int, int]:
        return hits_in_first(select(key).order_by(key.desc()), _all_terms(searched, terms, use_index=False), probe)

    return _once_per_request(("probe", searched.table, tuple(term.lower() for term in terms), probe), read)


def _frequent(searched: Searched, terms: list[str]) -> bool:
    """Whether at least SEARCH_FREQUENT_SHARE of the newest SEARCH_PROBE_ROWS rows (and at least one) hold the
    terms: a page then finds its rows along the list's order within about page size ÷ share rows. A table shorter
    than the probe is not asked (its look-up is cheap)."""
    if current_app.config["SEARCH_PROBE_ROWS"] <= 0:
        return False
    return frequent_in_probe(*_probe_hits(searched, terms))


def frequent_in_probe(hits: int, read: int) -> bool:
    """Whether a condition that `hits` of the newest SEARCH_PROBE_ROWS rows hold (of `read` rows read: fewer in a
    shorter table) is frequent: at least SEARCH_FREQUENT_SHARE of them, and at least one. Also the accounts' role
    filters' rule (admin_views/users.py)."""
    probe = current_app.config["SEARCH_PROBE_ROWS"]
    return probe > 0 and read == probe and hits >= max(1, probe * current_app.config["SEARCH_FREQUENT_SHARE"])


def _frequent_count(searched: Searched, terms: list[str], cap: int) -> tuple[int, bool]:
    """How many rows hold frequent terms, (count, exact), without the index: the rows older than the probe's, read
    from the oldest, up to cap + 1. When those end sooner, their hits and the probe's are the count (past the cap
    "more than the cap", as every count says); else the list says "more than" the hits among them (up to the cap),
    which is true: the probe's newer rows hold at least one more."""
    probe = current_app.config["SEARCH_PROBE_ROWS"]
    key = searched.column("id")
    newest_hits, _ = _probe_hits(searched, terms)
    probe_start = db.session.scalar(select(key).order_by(key.desc()).limit(1).offset(probe - 1))
    older = select(key).where(key < probe_start).order_by(key)
    found, read = hits_in_first(older, _all_terms(searched, terms, use_index=False), cap + 1)
    if read <= cap and found + newest_hits <= cap:
        return found + newest_hits, True
    return min(found + newest_hits if read <= cap else found, cap), False


def _once_per_request(key: tuple, compute: Callable[[], T]) -> T:
    """`compute()`, remembered for the rest of the request (outside a request: computed every time)."""
    if not has_request_context():
        return compute()
    remembered = request.__dict__.setdefault("_cms_search", {})
    if key not in remembered:
        remembered[key] = compute()
    return remembered[key]


def comment_clause(text: str | None, use_index: bool = True):
    """The moderators' comment search: every term is in the body, or is the author's username or email
    (exactly, ignoring case; an author is found by the unique indexes, not by reading all accounts)."""
    terms = search_terms(text)
    if not terms:
        return sa.true()
    authors = author_ids(terms)
    body_terms = [term for term in terms if term.lower() not in authors]
    clauses = [_all_terms(COMMENT_BODIES, body_terms, use_index)] if body_terms else []
    for term in terms:
        if term.lower() in authors:
            by_author = Comment.author_id.in_(authors[term.lower()])
            clauses.append(sa.or_(_all_terms(COMMENT_BODIES, [term], use_index), by_author))
    if not body_terms and use_index:
        # Only author terms: give the database a set of ids to start from instead of every comment.
        term = terms[0]
        indexed = _indexed_ids(COMMENT_BODIES, [term])
        if indexed is not None:
            authored = select(Comment.id).where(Comment.author_id.in_(authors[term.lower()]))
            either = sa.union(indexed, authored).subquery()
            clauses.append(Comment.id.in_(select(either.c[0])))
    return sa.and_(*clauses)


def author_ids(terms: list[str]) -> dict[str, list[int]]:
    """The accounts each term names exactly (username or email, stored lower case), keyed by the lowered term."""
    wanted = frozenset(term.lower() for term in terms)

    def look_up() -> dict[str, list[int]]:
        rows = db.session.execute(
            select(User.id, User.username, User.email).where(sa.or_(User.username.in_(wanted), User.email.in_(wanted)))
        )
        found: dict[str, list[int]] = {}
        for user_id, username, email in rows:
            # MariaDB's _ci collation also equates accents (josé = jose): keep only the exact names.
            for name in {username, email} & wanted:
                found.setdefault(name, []).append(user_id)
        return found

    return _once_per_request(("author_ids", wanted), look_up)


def _all_terms(searched: Searched, terms: list[str], use_index: bool = True):
    """Rows where every term is in one of the searched columns: the index narrows, and where its match is
    looser than a substring (Mroonga's bigrams ignore accents) or missing (FTS5 below three characters), the
    exact comparison decides."""
    if not terms:
        return sa.true()
    clauses = []
    indexed = _indexed_ids(searched, terms) if use_index else None
    if indexed is not None:
        clauses.append(searched.column("id").in_(indexed))
    kind = engine_in_use()
    for term in terms:
        if indexed is not None and kind == FTS5 and len(term) >= TRIGRAM:
            continue  # a trigram phrase is already an exact, case-folded substring match
        clauses.append(sa.or_(*(_contains(searched.column(name), term) for name in searched.columns)))
    return sa.and_(*clauses)


def _indexed_ids(searched: Searched, terms: list[str]):
    """SELECT of the ids the full-text index matches for all of `terms`, or None when it cannot help."""
    kind = engine_in_use()
    table = search_table(searched)
    if kind == FTS5:
        phrases = [fts5_phrase(term) for term in terms if len(term) >= TRIGRAM]
        if not phrases:
            return None
        return select(table.c.rowid).where(sa.literal_column(searched.table).match(" AND ".join(phrases)))
    if kind == MROONGA:
        query = " ".join(mroonga_phrase(term) for term in terms)
        columns = [table.c[name] for name in searched.columns]
        return select(table.c.id).where(mysql.match(*columns, against=query).in_boolean_mode())
    return None


@functools.cache
def search_table(searched: Searched) -> sa.TableClause:
    """The search table of `searched` as a SQL table (one object, so statements can refer to it twice)."""
    return sa.table(searched.table, *(sa.column(name) for name in ("id", "rowid", *searched.columns)))


def fts5_phrase(term: str) -> str:
    """A term as an FTS5 string: whatever it holds (AND, *, -, parentheses, quotes) is text, not syntax."""
    return '"' + term.replace('"', '""') + '"'


def mroonga_phrase(term: str) -> str:
    """A required phrase in Mroonga's boolean mode, with its quote and backslash escaped."""
    return '+"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _contains(column, term: str):
    """`column` contains `term`, ignoring case but not accents, the same on both databases."""
    if db.engine.dialect.name == "sqlite":
        # SQLite's LIKE and lower() fold ASCII only: GLOB with both cases of each letter folds them all.
        return column.op("GLOB")(glob_pattern(term))
    return sa.func.instr(sa.func.lower(column).collate("utf8mb4_bin"), term.lower()) > 0


def glob_pattern(term: str) -> str:
    """A GLOB pattern matching `term` anywhere, each letter in either case: 'Ño*' -> '*[Ññ][Oo][*]*'."""
    parts = []
    for char in term:
        cases = sorted({case for case in (char, char.lower(), char.upper()) if len(case) == 1})
        parts.append(f"[{''.join(cases)}]" if len(cases) > 1 or char in "*?[" else char)
    return f"*{''.join(parts)}*"
