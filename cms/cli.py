"""The `flask cms …` commands: init, create-user, seed, the background worker and its jobs, exports, i18n,
backup and restore."""

import threading
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from redis.exceptions import RedisError

from cms import (
    backups,
    catalog_store,
    catalogs,
    comment_counts,
    exports,
    i18n,
    outages,
    outbox,
    page_cache,
    post_counts,
)
from cms.accounts import AccountError, create_user, ensure_default_roles
from cms.backups import MIGRATIONS_DIR
from cms.catalog_editor import CatalogError
from cms.comments import CommentSelection, count_selected
from cms.exports.rows import INDEXED_ORDERS, RowOrder, order_for
from cms.extensions import db
from cms.locale import supported_locales
from cms.models import CommentStatus
from cms.seed import DEMO_TOTP_KEY, already_seeded, demo_accounts, seed_bulk, seed_showcase

cms_cli = AppGroup("cms", help="Newsroom administration commands.")

# `--order` of export-comments: id order, or a column the comment list sorts by and an index walks, '-' for descending.
EXPORT_ORDERS = ["id", *(f"{sign}{column}" for column in INDEXED_ORDERS for sign in ("", "-"))]
# The stored counts that check-counts compares with the rows, and the seed rebuilds after its bulk inserts.
COUNTERS = (comment_counts.COMMENTS, comment_counts.COMMENT_DAYS, post_counts.POSTS)


@cms_cli.command("init")
def init_command():
    """Apply migrations, create or update the roles, build this instance's catalogs. Safe to run on every deploy."""
    _catalog_source()  # before anything changes: a deploy missing its catalogs stops with the folder named
    upgrade(directory=MIGRATIONS_DIR)
    roles = ensure_default_roles()
    compiled = _compile_committed()
    click.echo(f"Database at the latest revision; roles: {', '.join(r.name for r in roles)}.")
    click.echo(f"Compiled {compiled} committed translation catalog(s).")
    _echo_build(catalog_store.refresh(current_app, force=True))
    _drop_cached_pages()


def _drop_cached_pages() -> None:
    """After a deploy's catalogs (or templates) are in place: the pages every instance keeps in the shared cache
    were made with the release before, whose wording a reader saw for up to an hour."""
    page_cache.bump()
    db.session.commit()
    click.echo("Cached public pages will be made again.")


def _compile_committed() -> int:
    """Compile the committed catalogs, refusing every one when any entry fails the translation checks."""
    try:
        return i18n.compile_catalogs(i18n.source_dir())
    except i18n.CatalogCheckError as exc:
        raise click.ClickException(f"No catalog was compiled; fix these entries first:\n{exc}") from None


def _echo_build(built: catalog_store.Build) -> None:
    click.echo(
        f"Built the catalogs for {', '.join(built.locales) or 'no language'} in {i18n.translations_dir()} "
        f"with {built.stored} translator edit(s) from the database."
    )


@cms_cli.command("create-user")
@click.argument("email")
@click.option("--password", required=True, help="At least 12 characters, and not easy to guess.")
@click.option("--role", "roles", multiple=True, help="A role name; repeat for several.")
@click.option("--username", default=None, help="Defaults to the part of the email before '@'.")
def create_user_command(email, password, roles, username):
    """Create a confirmed user with the given roles."""
    try:
        user = create_user(email, password, list(roles), username=username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.email} ({user.username}) with roles: {', '.join(r.name for r in user.roles) or '-'}.")


@cms_cli.command("seed")
@click.option("--users", default=20, show_default=True, help="Extra reader accounts (5% also Authors).")
@click.option("--posts", default=40, show_default=True)
@click.option("--comments", default=200, show_default=True)
@click.option("--follows", default=50, show_default=True)
@click.option("--force", is_flag=True, help="Add the generated rows even when the database already holds posts.")
def seed_command(users, posts, comments, follows, force):
    """Demo accounts (one per role) plus generated users, posts, comments and follows, with translated and
    scheduled posts. Once: when the database already holds posts only the demo accounts are checked (`make run`
    runs this every time)."""
    for value in (users, posts, comments, follows):
        if value < 0:
            raise click.BadParameter("counts cannot be negative")
    ensure_default_roles()
    accounts = demo_accounts()
    existing = already_seeded()
    if existing and not force:
        click.echo(f"Skipped the demo data: the database already holds posts ({existing:,}); --force adds more.")
    else:
        _seed_rows(users, posts, comments, follows)
    click.echo("Demo accounts (email / password):")
    for role, email, password in accounts:
        click.echo(f"  {role:<14} {email:<28} {password}")
    click.echo(f"Staff accounts also ask for a code: add the key {DEMO_TOTP_KEY} to an authenticator app.")


def _seed_rows(users: int, posts: int, comments: int, follows: int) -> None:
    total = users + posts + comments + follows
    seeded: dict[str, int] = {}

    def advance(what: str, rows: int) -> None:
        seeded[what] = seeded.get(what, 0) + rows
        bar.update(rows)

    with click.progressbar(length=total, label="Seeding", show_pos=True, show_eta=True) as bar:
        try:
            seed_bulk(users, posts, comments, follows, progress=advance)
            seed_showcase()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        finally:  # the batches committed before a failure or an interrupt are counted too
            db.session.rollback()
            for counter in COUNTERS:
                counter.recount()  # the seed inserts in bulk, past the counting hooks
    if seeded.get("follows", 0) < follows:  # each reader follows a writer once: the pairs can run out
        click.echo(
            f"Seeded {seeded.get('follows', 0):,} of the {follows:,} follows asked for: every account already "
            "follows every writer it can. Add --users for more."
        )
    current_app.logger.info("Seeded %d rows", total)


@cms_cli.command("check-counts")
@click.option("--fix", is_flag=True, help="Rewrite the stored counts from the rows.")
def check_counts_command(fix):
    """Compare the stored counts of comments per status (the moderation queue's tabs) and per day (the console's
    chart) and of posts per status (the post list's count) with the rows themselves."""
    off = []
    for counter in COUNTERS:
        wrong = counter.mismatches()
        for status, (stored, true) in sorted(wrong.items()):
            click.echo(f"{counter.name} {status}: stored {stored:,}, actually {true:,}")
        if not wrong:
            click.echo(f"The {counter.name} counts are exact.")
        elif fix:
            counter.recount()
            click.echo(f"Rewrote the {counter.name} counts.")
        else:
            off.append(counter.name)
    if off:
        names = " and ".join(off)
        raise click.ClickException(f"The {names} counts are off; run `flask cms check-counts --fix`.")


i18n_cli = AppGroup(
    "i18n", help="Translation catalogs: extract, update, compile (wraps pybabel); export and import translators' work."
)
cms_cli.add_command(i18n_cli)


def _catalog_source(template: bool = False) -> Path:
    """The committed catalogs' folder (CATALOG_SOURCE_DIR), refused with a message when it is missing, or when the
    command reads messages.pot (`template`) and that is missing."""
    source = i18n.source_dir()
    if not source.is_dir():
        raise click.ClickException(f"There is no catalog folder at {source} (CATALOG_SOURCE_DIR).")
    if template and not (source / i18n.TEMPLATE.name).is_file():
        raise click.ClickException(f"There is no {i18n.TEMPLATE.name} in {source}; run `flask cms i18n extract` first.")
    return source


@i18n_cli.command("extract")
def i18n_extract():
    """Write messages.pot (in CATALOG_SOURCE_DIR, translations/ by default) from the strings in cms/ and
    admin_views/, where `update` and `init` read it."""
    path = i18n.extract(_catalog_source() / i18n.TEMPLATE.name)
    click.echo(f"Wrote {path}.")


@i18n_cli.command("update")
def i18n_update():
    """Merge messages.pot into every committed locale's messages.po."""
    i18n.update(_catalog_source(template=True))
    click.echo("Catalogs updated.")


@i18n_cli.command("compile")
def i18n_compile():
    """Compile the committed catalogs and rebuild the ones this instance serves (fuzzy entries left out)."""
    _catalog_source()
    click.echo(f"Compiled {_compile_committed()} committed catalog(s).")
    if "catalog_revision" not in sa.inspect(db.engine).get_table_names():
        click.echo("The database is not migrated yet (flask cms init): its first start builds the served catalogs.")
        return
    _echo_build(catalog_store.refresh(current_app, force=True))
    _drop_cached_pages()


@i18n_cli.command("init")
@click.argument("locale")
def i18n_init(locale):
    """Start a committed catalog for a new LOCALE from messages.pot (a language that has one is refused)."""
    try:
        code = catalogs.language_code(locale)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    source = _catalog_source()
    if (source / code / "LC_MESSAGES" / "messages.po").exists():  # it was written over: every translation gone
        raise click.ClickException(
            f"There is already a catalog for {code}; `flask cms i18n update` merges new messages."
        )
    _catalog_source(template=True)
    click.echo(f"Created {i18n.init_locale(code, source)}.")


@i18n_cli.command("export-po")
@click.option("--locale", required=True, help="The language, e.g. zh.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write (- for standard output). Default: the committed messages.po of LOCALE.")  # fmt: skip
def i18n_export_po(locale, output):
    """Write LOCALE's catalog with every translator's saved entry, for developers to commit."""
    try:
        text = catalogs.export_po(locale)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    if output == "-":
        click.echo(text, nl=False)
        return
    source = i18n.source_dir()
    target = Path(output) if output else source / locale / "LC_MESSAGES" / "messages.po"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with i18n.folder_lock(source if target.resolve().is_relative_to(source.resolve()) else target.parent):
            i18n.write_file(target, text.encode("utf-8"))  # whole: a half-written .po never lands in the checkout
    except OSError as exc:  # a folder that is a file, or that this account may not write
        raise click.ClickException(f"Cannot write {target}: {exc.strerror or exc}.") from None
    click.echo(f"Wrote {target}.", err=True)


@i18n_cli.command("import-po")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--locale", required=True, help="The language of the file, e.g. zh.")
def i18n_import_po(path, locale):
    """Load the translations of the .po at PATH into the database, checked as an upload is; every instance
    serves them within a second."""
    try:
        report, applied = catalogs.import_po(locale, Path(path).read_bytes())
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    for msgid in report["unknown"]:
        click.echo(f"Not in the {locale} catalog, ignored: {msgid!r}")
    if report["problems"]:
        for problem in report["problems"]:
            click.echo(f"{problem['msgid']!r}: {'; '.join(str(e) for e in problem['errors'])}")
        raise click.ClickException(f"{len(report['problems'])} entries have problems; nothing was imported.")
    click.echo(f"Imported {applied} of {len(report['changes'])} changed entries into the {locale} catalog.")


@cms_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop.")
def worker_command(burst):
    """Run background jobs (comment exports, outgoing mail) from Redis; needs CMS_REDIS_URL. Exports a dead worker
    left running are failed first (their moderators can run them again); mail it left half sent goes back to the
    queue once its lease is stale, and whatever mail is due is sent."""
    redis_url = current_app.config.get("REDIS_URL")
    if not redis_url:
        raise click.ClickException(
            "Set CMS_REDIS_URL: without Redis, exports and mail run on a thread in the web process."
        )
    from rq import Queue, SimpleWorker

    _echo_failed(exports.fail_stale_jobs())
    exports.sweep_temporary_files()
    connection = outages.redis_client(current_app.config)
    try:
        connection.ping()
    except RedisError as exc:
        raise click.ClickException(f"Redis (CMS_REDIS_URL) does not answer: {exc}") from None
    queues = [Queue(current_app.config[name], connection=connection) for name in ("EXPORT_QUEUE", "MAIL_QUEUE")]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    if outbox.runner(app) == "rq":
        outbox.wake(app)  # mail left in the outbox (by a worker that stopped, or while Redis was away)
        if not burst:
            outbox.watch(app, stop)  # retries and stale claims, when they fall due
    # SimpleWorker runs each job in this process, inside this app context (no fork, no shared connections).
    try:
        SimpleWorker(queues, connection=connection).work(burst=burst)
    finally:
        stop.set()


@cms_cli.command("send-mail")
def send_mail_command():
    """Send the mail that is due now (put back in the queue first what a stopped worker held), once; for
    MAIL_WORKER=none, from cron."""
    failures: list[str] = []
    sent = outbox.send_due_mail(failures)
    click.echo(f"Sent {sent} mail(s); {outbox.failed_count()} failed for good (see /admin/outbox/).")
    if failures:  # cron tells a run that could not send from one with nothing due by the exit code
        raise click.ClickException(
            f"{len(failures)} attempt(s) to send failed (see /admin/outbox/); the last: {failures[-1]}"
        )


@cms_cli.command("jobs")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(min=1, max=10_000), help="How many to list."
)
def jobs_command(limit):
    """Fail the background exports whose worker stopped, then list the newest ones with their state; put back in
    the queue the mail a stopped worker held, and say how much mail failed for good."""
    _echo_failed(exports.fail_stale_jobs())
    requeued, failed = outbox.requeue_stale(), outbox.failed_count()
    if requeued:
        click.echo(f"Put {requeued} mail(s) a stopped worker held back in the outbox's queue.")
    if failed:
        click.echo(f"{failed} mail(s) failed for good: see /admin/outbox/ (Send again).")
    for job in exports.recent_jobs(limit):
        line = f"{job.id}  {job.created_at:%Y-%m-%d %H:%M:%S}  {job.format:<4}  {job.status:<7}"
        line += f"  {job.done:,}/{job.total:,}"
        reason = exports.failure_reason(job)
        click.echo(f"{line}  {reason}" if reason else line)


def _echo_failed(failed: list[str]) -> None:
    if failed:
        click.echo(f"Failed {len(failed)} background export(s) that could no longer finish: {', '.join(failed)}.")


@cms_cli.command("export-comments")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--status", type=click.Choice([status.value for status in CommentStatus]), default=None)
@click.option("--search", default=None, help="Words that must appear in the body or the author's username.")
@click.option("--locale", default="en", show_default=True, help="Language of the header row.")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True, help="For the post URL column.")
@click.option(
    "--order",
    type=click.Choice(EXPORT_ORDERS),
    default="id",
    show_default=True,
    help="The rows' order, as the comment list sorts them: by date or by status, '-' first for descending; ties "
    "by id. A search is exported in id order.",
)
def export_comments_command(path, status, search, locale, base_url, order):
    """Export comments to PATH (.xlsx or .csv), streaming, with a progress bar."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in exports.FORMATS:
        raise click.BadParameter("the file must end in .xlsx or .csv", param_hint="PATH")
    if not target.parent.is_dir():
        raise click.BadParameter(f"there is no folder {target.parent}", param_hint="PATH")
    if locale not in supported_locales():
        raise click.BadParameter(
            f"one of the site's languages: {', '.join(supported_locales())}", param_hint="--locale"
        )
    selection = CommentSelection(status=status, search=search)
    asked = RowOrder(order.lstrip("-"), order.startswith("-"))
    used = order_for(selection, asked)
    if used != asked:
        click.echo(f"A search is exported in id order, not by {order}.")
    total = count_selected(selection)
    with click.progressbar(length=total, label=f"Exporting {total:,} comments", show_pos=True) as bar:
        # A command runs on one thread, so a large csv may be written by two processes.
        try:
            delivery = exports.deliver(
                None,
                selection,
                fmt,
                locale=locale,
                base_url=base_url,
                path=target,
                total=total,
                progress=bar.update,
                parallel=True,
                order=used,
            )
        except exports.ExportError as exc:  # a full disk: said plainly, and no half file left at PATH
            cause = exc.__cause__
            if cause is None or outages.disk_problem(cause) == "full":
                raise click.ClickException(str(exc)) from None
            # The console's words ("the exports folder cannot be written to") name no path: the disk's own do.
            raise click.ClickException(f"The export was not written to {target}: {cause}") from None
    click.echo(f"Wrote {delivery.total:,} rows to {target}.")


@cms_cli.command("purge-exports")
def purge_exports_command():
    """Delete background export files older than a day."""
    click.echo(f"Removed {exports.purge_expired()} expired export(s).")


@cms_cli.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
def backup_command(dest):
    """Back up the database (translators' saved translations included), the uploads and the committed catalogs
    into the new folder DEST."""
    try:
        made = backups.backup(Path(dest))
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a folder under a file, or one this account may not write
        raise click.ClickException(f"Cannot write the backup to {dest}: {exc.strerror or exc}.") from None
    click.echo(_contents_line(f"Backed up to {dest}", made))


@cms_cli.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--skip-catalogs", is_flag=True, help="Keep the committed catalogs this checkout has.")
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore_command(src, skip_catalogs, yes):
    """Replace the database with the backup SRC's, put its uploads and committed catalogs back, and rebuild the
    served catalogs. Stop every instance and worker first."""
    try:
        expected = backups.read_manifest(Path(src))
        if not yes:
            question = f"Replace this site's database with the backup of {expected.created_at}"
            click.confirm(_contents_line(question, expected) + "?", abort=True)
        restored = backups.restore(Path(src), catalogs=not skip_catalogs)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_contents_line(f"Restored {src}", restored))


def _contents_line(what: str, contents: backups.Contents) -> str:
    return (
        f"{what}: {contents.posts:,} posts, {contents.media:,} images ({contents.upload_files:,} files), "
        f"{contents.catalog_entries:,} saved translations, {contents.catalog_files:,} catalog files"
    )
