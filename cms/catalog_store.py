"""Where translators' work on the interface catalog lives, and how each app instance serves it.

What translators save is kept in the database (`CatalogEntry`, one row per changed message and language), so
every instance sees it and a deploy does not erase it. The committed catalogs (CATALOG_SOURCE_DIR) stay the
developers' side of the pybabel workflow. Each instance builds the catalogs it serves into its own folder
(CATALOG_BUILD_DIR, which is its BABEL_TRANSLATION_DIRECTORIES): the committed .po of each language with the saved
entries on top, for the messages the code still has, compiled. Flask-Admin's and Flask-Security's catalogs are
copied beside them as committed.

Every catalog change gives the catalogs a new revision (`CatalogRevision`) and bumps the content version, in its
own transaction. Each worker reads the content version anyway (memoised for PAGE_CACHE_VERSION_TTL); only when
that moved does it read the revision, and only when the revision moved does it rebuild. A change made on one
instance is therefore served by every other within that time, and no page is cached under a new content version
with the old strings."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polib
import sqlalchemy as sa
from flask import Flask

from cms import page_cache
from cms.catalog_editor import (
    DOMAIN,
    CatalogError,
    entry_key,
    entry_value,
    locales,
    plural_count,
    set_entry,
    write_catalog,
)
from cms.extensions import db
from cms.i18n import TEMPLATE, compile_catalog, new_catalog, source_dir, translations_dir
from cms.models import CatalogEntry, CatalogRevision, User, utcnow

log = logging.getLogger(__name__)

HEADER_KEY = entry_key(polib.POEntry(msgid=""))  # a catalog's header entry: marks a language added in the console
FILE_DOMAINS = ("admin", "flask_security")  # Flask-Admin's and Flask-Security's catalogs: served as committed
BUILD_STAMP = ".built"  # in a build folder: the revision and the committed files it was built from
BUILD_LOCK = ".build.lock"


# -- the database side -----------------------------------------------------------------------------
def revision() -> str | None:
    """The catalogs' revision: a token that changes with every change (compared, never ordered)."""
    return db.session.scalar(sa.select(CatalogRevision.token).where(CatalogRevision.id == 1))


def claim_revision() -> str:
    """Give the catalogs a new revision; the first statement of every change's transaction. The row stays
    locked until that transaction ends, so changes take turns whichever instance makes them: what a change
    reads and compares after this cannot move under it before its commit."""
    token = uuid.uuid4().hex
    result = db.session.execute(sa.update(CatalogRevision).where(CatalogRevision.id == 1).values(token=token))
    if not result.rowcount:  # type: ignore[attr-defined]
        db.session.execute(sa.insert(CatalogRevision).values(id=1, token=token))
    return token


def stored_entries(locale: str | None = None) -> list[CatalogEntry]:
    query = sa.select(CatalogEntry).order_by(CatalogEntry.locale, CatalogEntry.id)
    if locale is not None:
        query = query.where(CatalogEntry.locale == locale)
    return list(db.session.scalars(query))


def stored_locales() -> set[str]:
    return set(db.session.scalars(sa.select(CatalogEntry.locale).distinct()))


def store(locale: str, entry: polib.POEntry, user: User | None) -> None:
    """Keep `entry`'s translation and fuzzy flag as a translator saved it (call after `claim_revision`)."""
    key = entry_key(entry)
    row = db.session.scalar(sa.select(CatalogEntry).where(CatalogEntry.locale == locale, CatalogEntry.msgkey == key))
    if row is None:
        row = CatalogEntry(locale=locale, msgkey=key)
        db.session.add(row)
    value = entry_value(entry)
    row.msgctxt, row.msgid, row.msgid_plural = entry.msgctxt or None, entry.msgid, entry.msgid_plural or None
    row.forms, row.fuzzy = json.dumps(value["forms"], ensure_ascii=False), value["fuzzy"]
    row.updated_at, row.updated_by_id = utcnow(), user.id if user is not None else None


def store_new_language(locale: str, user: User | None) -> None:
    """Record that `locale` was added: its catalog's header row (call after `claim_revision`)."""
    db.session.add(CatalogEntry(locale=locale, msgkey=HEADER_KEY, msgid="", updated_by_id=user.id if user else None))


# -- a catalog: committed, with the saved entries on top --------------------------------------------
def known_locales(source: Path | None = None) -> list[str]:
    """Every language with a catalog: committed, or added in the console."""
    return sorted(set(locales(source or source_dir())) | stored_locales())


def base_catalog(locale: str, source: Path) -> polib.POFile:
    """The committed catalog of `locale`; for a language added in the console, one started from messages.pot."""
    path = source / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        return polib.pofile(str(path), wrapwidth=78)
    return polib.pofile(new_catalog(locale, source / TEMPLATE.name), wrapwidth=78)


def apply_stored(catalog: polib.POFile, rows: list[CatalogEntry]) -> int:
    """Put the saved translations on the messages `catalog` still has; how many were put. Rows for messages
    the code no longer has stay in the database, unserved, should the message come back."""
    entries = {entry_key(e): e for e in catalog if not e.obsolete}
    nplurals = plural_count(catalog)
    applied = 0
    for row in rows:
        entry = entries.get(row.msgkey)
        if entry is None or entry.msgid != row.msgid or (entry.msgctxt or None) != row.msgctxt:
            continue
        set_entry(entry, json.loads(row.forms), row.fuzzy, nplurals)
        applied += 1
    return applied


def merged_catalog(locale: str, source: Path | None = None) -> polib.POFile:
    """`locale`'s catalog as it is now: committed, with what translators saved on top (read from the database)."""
    catalog = base_catalog(locale, source or source_dir())
    apply_stored(catalog, stored_entries(locale))
    return catalog


# -- each instance's build -------------------------------------------------------------------------
@dataclass
class Build:
    revision: str | None
    locales: list[str] = field(default_factory=list)
    stored: int = 0  # saved entries served
    rebuilt: bool = True


def build(app: Flask, force: bool = False) -> Build:
    """Make the catalogs `app` serves match the committed files and the database. Workers sharing the folder
    take turns; one that finds it already built from the same revision and files leaves it alone. A language
    whose catalog fails to build keeps its previous files (logged), so one bad row never takes a site down."""
    source, target = source_dir(app), translations_dir(app)
    target.mkdir(parents=True, exist_ok=True)
    with _build_lock(target):
        current = revision()
        stamp = f"{current}:{_fingerprint(source)}"
        stamp_path = target / BUILD_STAMP
        if not force and stamp_path.exists() and stamp_path.read_text() == stamp:
            return Build(current, locales(target), rebuilt=False)
        by_locale: dict[str, list[CatalogEntry]] = defaultdict(list)
        for row in stored_entries():
            by_locale[row.locale].append(row)
        served = sorted(set(locales(source)) | set(by_locale))
        result, failed = Build(current, served), False
        for locale in served:
            try:
                catalog = base_catalog(locale, source)
                result.stored += apply_stored(catalog, by_locale[locale])
                write_catalog(catalog, target / locale / "LC_MESSAGES" / f"{DOMAIN}.po")
            except (CatalogError, OSError, ValueError):
                log.exception("The %s catalog could not be built; its previous files stay", locale)
                failed = True
        for gone in set(locales(target)) - set(served):
            for suffix in (".po", ".mo"):
                (target / gone / "LC_MESSAGES" / f"{DOMAIN}{suffix}").unlink(missing_ok=True)
        _copy_file_catalogs(source, target)
        if not failed:
            _write_text(stamp_path, stamp)
    return result


def _fingerprint(source: Path) -> str:
    """Changes when a committed catalog or the template does (a deploy)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted([source / TEMPLATE.name, *source.glob("*/LC_MESSAGES/*.po")]):
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _copy_file_catalogs(source: Path, target: Path) -> None:
    for po in sorted(p for domain in FILE_DOMAINS for p in source.glob(f"*/LC_MESSAGES/{domain}.po")):
        copy = target / po.relative_to(source)
        data = po.read_bytes()
        if copy.exists() and copy.with_suffix(".mo").exists() and copy.read_bytes() == data:
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        _write_text(copy, data.decode("utf-8"))
        compile_catalog(copy)


def _write_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as fh:
        fh.write(text)
    os.replace(fh.name, path)


@contextlib.contextmanager
def _build_lock(target: Path):
    """One build at a time per folder (the workers of one machine); readers never wait (files are renamed in)."""
    with open(target / BUILD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- serving the latest catalogs without a restart -------------------------------------------------------
@dataclass
class LocalState:
    """What one app in one process knows of its catalogs: whether it built them yet, from which revision, and
    the content version it last looked at."""

    built: bool = False
    revision: str | None = None
    content_version: int | None = None


def local_state(app: Flask) -> LocalState:
    return app.extensions.setdefault("cms.catalogs", LocalState())


def reload_if_changed(app: Flask) -> bool:
    """Before each request: rebuild this instance's catalogs when another instance (or a deploy) changed them
    since it last looked. Costs nothing beyond the content version's memoised read unless that moved."""
    state = local_state(app)
    version = page_cache.content_version()
    if state.built and version == state.content_version:
        return False
    state.content_version = version
    if state.built and revision() == state.revision:
        return False
    refresh(app)
    return True


def refresh(app: Flask, force: bool = False) -> Build:
    """Build `app`'s catalogs now (after a change this process made, or on the first request) and have this
    process's Flask-Babel read them again."""
    result = build(app, force)
    state = local_state(app)
    state.built, state.revision = True, result.revision
    _forget_translations(app)
    return result


def _forget_translations(app: Flask) -> None:
    """Flask-Babel caches catalogs per process, and never re-reads a changed .mo by itself (its issue #180)."""
    app.extensions["babel"].instance.domain_instance.cache.clear()
    security = app.extensions.get("security")
    if security is not None and getattr(security, "i18n_domain", None) is not None:
        security.i18n_domain.cache.clear()
