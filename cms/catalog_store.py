"""Where translators' work on the interface catalog lives, and how each app instance serves it.

What translators save is kept in the database (`CatalogEntry`, one row per changed message and language), so
every instance sees it and a deploy does not erase it. The committed catalogs (CATALOG_SOURCE_DIR) stay the
developers' side of the pybabel workflow. Each instance builds the catalogs it serves into its own folder
(CATALOG_BUILD_DIR): the committed .po of each language with the saved entries on top, for the messages the code
still has, compiled. Flask-Admin's and Flask-Security's catalogs are copied beside them as committed. Every build
is a new folder under builds/; once it is complete, the link `current` (BABEL_TRANSLATION_DIRECTORIES) is switched
to it in one rename, so readers see every .po and .mo of the old build or of the new one, never a mix, whenever
the process building it dies. What a dead process left (half-built folders, temporary files) is swept at start-up.

Every catalog change gives the catalogs a new revision (`CatalogRevision`) and bumps the content version, in its
own transaction. Each worker reads the content version anyway (memoised for PAGE_CACHE_VERSION_TTL); only when
that moved does it read the revision, and only when the revision moved does it rebuild. A change made on one
instance is therefore served by every other within that time, and no page is cached under a new content version
with the old strings."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
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
from cms.extensions import db, primary_reads
from cms.i18n import (
    TEMPLATE,
    TEMPORARY,
    catalog_paths,
    compile_catalog,
    folder_lock,
    leftovers,
    new_catalog,
    remove,
    served_dir,
    source_dir,
    write_file,
)
from cms.models import CatalogEntry, CatalogRevision, User, utcnow

log = logging.getLogger(__name__)

HEADER_KEY = entry_key(polib.POEntry(msgid=""))  # a catalog's header entry: marks a language added in the console
FILE_DOMAINS = ("admin", "flask_security")  # Flask-Admin's and Flask-Security's catalogs: served as committed
BUILD_STAMP = ".built"  # in a build folder: the revision and the committed files it was built from
BUILDS = "builds"  # in CATALOG_BUILD_DIR: one folder per build; `<name>.tmp` while it is being built


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


def build_root(app: Flask) -> Path:
    """The folder `app` builds its catalogs in (CATALOG_BUILD_DIR): builds/ and the link to the one it serves."""
    return Path(app.config["CATALOG_BUILD_DIR"])


def build(app: Flask, force: bool = False) -> Build:
    """Make the catalogs `app` serves match the committed files and the database. Workers sharing the folder
    take turns; one that finds it already built from the same revision and files leaves it alone. A language
    whose catalog fails to build keeps its previous files (logged), so one bad row never takes a site down.

    The build is written into a new folder no reader sees, then served by switching the link `current` to it
    (`_switch`): whatever step the process dies at, readers and a restarted process find the old build or the
    new one, whole."""
    source, root = source_dir(app), build_root(app)
    served = served_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    with folder_lock(root):
        current = revision()
        stamp = f"{current}:{_fingerprint(source)}"
        stamp_path = served / BUILD_STAMP
        if not force and stamp_path.exists() and stamp_path.read_text() == stamp:
            return Build(current, locales(served), rebuilt=False)
        by_locale: dict[str, list[CatalogEntry]] = defaultdict(list)
        for row in stored_entries():
            by_locale[row.locale].append(row)
        languages = sorted(set(locales(source)) | set(by_locale))
        result, failed = Build(current, languages), False
        builds = root / BUILDS
        builds.mkdir(exist_ok=True)
        name = uuid.uuid4().hex
        fresh = builds / f"{name}{TEMPORARY}"
        fresh.mkdir()
        try:
            for locale in languages:
                po = Path(locale, "LC_MESSAGES", f"{DOMAIN}.po")
                try:
                    catalog = base_catalog(locale, source)
                    result.stored += apply_stored(catalog, by_locale[locale])
                    if not _link_unchanged(served, fresh, po, str(catalog).encode("utf-8")):
                        write_catalog(catalog, fresh / po)
                except (CatalogError, OSError, ValueError):
                    log.exception("The %s catalog could not be built; its previous files stay", locale)
                    failed = True
                    _keep_previous(served, fresh, po)
            _copy_file_catalogs(source, served, fresh)
            if not failed:
                write_file(fresh / BUILD_STAMP, stamp.encode())
            os.rename(fresh, builds / name)
            previous = _switch(root, builds / name)
        finally:
            if fresh.exists():
                remove(fresh)
        _prune(builds, keep={name, previous})
    return result


def _fingerprint(source: Path) -> str:
    """Changes when a committed catalog or the template does (a deploy)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted([source / TEMPLATE.name, *catalog_paths(source)]):
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _keep_previous(served: Path, fresh: Path, po: Path) -> None:
    """Give the new build the served build's .po and .mo at `po` (relative), or neither."""
    for path in (po, po.with_suffix(".mo")):
        (fresh / path).unlink(missing_ok=True)
        if (served / path).is_file():
            write_file(fresh / path, (served / path).read_bytes())


def _copy_file_catalogs(source: Path, served: Path, fresh: Path) -> None:
    """Flask-Admin's and Flask-Security's committed catalogs, compiled, into the new build."""
    for po in sorted(p for domain in FILE_DOMAINS for p in source.glob(f"*/LC_MESSAGES/{domain}.po")):
        relative, text = po.relative_to(source), po.read_bytes()
        if not _link_unchanged(served, fresh, relative, text):
            write_file(fresh / relative, text)
            compile_catalog(fresh / relative)


def _link_unchanged(served: Path, fresh: Path, po: Path, text: bytes) -> bool:
    """Give the new build the served build's .po at `po` (relative) and its .mo, if that .po reads `text`: the
    same files, linked (a build is never changed once complete), with no compile. False when they must be
    written."""
    pair = (po, po.with_suffix(".mo"))
    try:
        if (served / po).read_bytes() != text or not (served / pair[1]).is_file():
            return False
        (fresh / po).parent.mkdir(parents=True, exist_ok=True)
        for path in pair:
            os.link(served / path, fresh / path)
    except OSError:
        for path in pair:  # never write through a link into the served build
            (fresh / path).unlink(missing_ok=True)
        return False
    return True


def _switch(root: Path, build_dir: Path) -> str | None:
    """Serve `build_dir`: the link `current` is replaced by one to it in a single rename (readers resolve the
    link at each open, so they see one build or the other). The name of the build served before, if any."""
    link = served_dir(root)
    try:
        previous: str | None = Path(os.readlink(link)).name
    except OSError:
        previous = None
    pending = root / f"{link.name}.{build_dir.name}{TEMPORARY}"
    pending.unlink(missing_ok=True)
    os.symlink(Path(build_dir.parent.name, build_dir.name), pending)
    os.replace(pending, link)
    _sync_folder(root)
    return previous


def _sync_folder(directory: Path) -> None:
    """Make a rename in `directory` durable (a power cut after it must not bring the old link back)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(builds: Path, keep: set[str | None]) -> None:
    """Remove every build but the ones to keep: the one served and the one before it (a reader may have resolved
    the link just before the switch). Older ones go, and complete or half-built ones that a process dying before
    its switch left."""
    for path in builds.iterdir():
        if path.name not in keep:
            try:
                remove(path)
            except OSError:
                log.warning("Could not remove the old catalog build %s", path, exc_info=True)


def remove_leftovers(app: Flask) -> list[Path]:
    """At start-up: remove what catalog writes that never finished left behind, beside the committed catalogs
    and in the build folder (temporary files, half-built folders, a link not yet switched), and nothing else.
    Each folder is swept while holding its lock, so nothing another process is writing now is touched."""
    return _sweep(source_dir(app), leftovers) + _sweep(
        build_root(app), lambda root: [*leftovers(root), *(root / BUILDS).glob(f"*{TEMPORARY}")]
    )


def _sweep(folder: Path, find: Callable[[Path], list[Path]]) -> list[Path]:
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    try:
        with folder_lock(folder):
            for path in find(folder):
                remove(path)
                removed.append(path)
                log.warning("Removed %s, left by a catalog write that never finished", path)
    except OSError:  # a read-only checkout, say: what is left there is never read as a catalog
        log.warning("Could not remove what unfinished catalog writes left in %s", folder, exc_info=True)
    return removed


def init_app(app: Flask) -> None:
    """Sweep what a catalog build or compile that died left behind, and serve the latest catalogs before each
    request (`reload_if_changed`)."""
    remove_leftovers(app)

    @app.before_request
    def serve_saved_translations() -> None:
        reload_if_changed(app)


# -- serving the latest catalogs without a restart -------------------------------------------------------
@dataclass
class LocalState:
    """What one app in one process knows of its catalogs: whether it built them yet, from which revision, and
    the content version it last looked at."""

    built: bool = False
    revision: str | None = None
    content_version: int | None = None
    # One request of a threaded server at a time looks and rebuilds: another, seeing the content version it recorded,
    # would serve (and the page cache keep, under the new version) the old wording while the first rebuilt.
    lock: threading.Lock = field(default_factory=threading.Lock)


def local_state(app: Flask) -> LocalState:
    return app.extensions.setdefault("cms.catalogs", LocalState())


def reload_if_changed(app: Flask) -> bool:
    """Before each request: rebuild this instance's catalogs when another instance (or a deploy) changed them
    since it last looked. Costs nothing beyond the content version's memoised read unless that moved."""
    with primary_reads():  # the catalogs are built from the primary: its version and revision are theirs
        return _reload_if_changed(app)


def _reload_if_changed(app: Flask) -> bool:
    state = local_state(app)
    version = page_cache.content_version()
    if state.built and version == state.content_version:
        return False
    with state.lock:
        if state.built and version == state.content_version:  # another thread rebuilt meanwhile
            return False
        # The version is recorded once the catalogs are current: recorded first, a database error while reading the
        # revision or rebuilding left this instance on the old wording until some other change moved the version.
        rebuilt = not (state.built and revision() == state.revision)
        if rebuilt:
            refresh(app)
        state.content_version = version
    return rebuilt


def refresh(app: Flask, force: bool = False) -> Build:
    """Build `app`'s catalogs now (after a change this process made, or on the first request) and have this
    process's Flask-Babel read them again."""
    result = build(app, force)
    state = local_state(app)
    state.built, state.revision = True, result.revision
    _forget_translations(app)
    return result


def _forget_translations(app: Flask) -> None:
    """Flask-Babel caches catalogs per process, and never re-reads a changed .mo by itself (its issue #180); the
    console's menus are kept rendered in their labels' old wording."""
    app.extensions["babel"].instance.domain_instance.cache.clear()
    app.extensions.pop("cms_console_menus", None)  # admin_views.menu (cms does not import the console)
    security = app.extensions.get("security")
    if security is not None and getattr(security, "i18n_domain", None) is not None:
        security.i18n_domain.cache.clear()
