"""Writing export rows to a file: xlsxwriter in constant-memory mode or the csv module, so memory stays flat
whatever the size; a large csv is written by two processes, each taking half of the ids."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import multiprocessing
import os
import pickle  # nosec B403
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
import xlsxwriter
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from xlsxwriter.exceptions import FileCreateError

from cms import outages
from cms.comments import CommentSelection, count_selected, selection_clauses
from cms.domain import DomainError
from cms.exports.rows import export_rows, header
from cms.extensions import db, replica_engine
from cms.models import Comment

log = logging.getLogger("cms.exports")

Progress = Callable[[int], None]


class ExportError(DomainError):
    """An export request refused; the message is shown to the moderator."""


def write_xlsx(path: Path, head: list[str], chunks, progress: Progress | None = None) -> int:
    """xlsxwriter in constant-memory mode: each row goes to disk as it is written. Its working files go into a
    folder of their own in the system's temporary folder, removed however the export ends (xlsxwriter leaves
    them behind when writing fails)."""
    with tempfile.TemporaryDirectory(prefix="cms-xlsx-", ignore_cleanup_errors=True) as workdir:
        workbook = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": workdir},
        )
        sheet = workbook.add_worksheet("Comments")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, head, bold)
        sheet.freeze_panes(1, 0)
        number, string = sheet.write_number, sheet.write_string
        row_number = 0
        for rows in chunks:
            for row in rows:
                row_number += 1
                number(row_number, 0, row[0])
                for column in range(1, 8):
                    string(row_number, column, row[column])
            if progress:
                progress(len(rows))
        try:
            workbook.close()
        except FileCreateError as error:
            _close_abandoned_zip(error)
            raise
    return row_number


def _close_abandoned_zip(error: FileCreateError) -> None:
    """xlsxwriter leaves its ZipFile open when writing it fails (a full disk). Closed here, its file is released
    now, and its __del__ does not retry the write during some later garbage collection, where the error would
    surface inside whatever code happens to run."""
    cause = error.args[0] if error.args else None
    trace = getattr(cause, "__traceback__", None)
    while trace is not None:
        for value in list(trace.tb_frame.f_locals.values()):
            if isinstance(value, zipfile.ZipFile):
                with contextlib.suppress(OSError, ValueError):
                    value.close()
        trace = trace.tb_next


def _csv_chunks(fh, chunks, progress: Progress | None = None) -> int:
    """Each chunk is formatted by the csv module into a buffer, then written in one call."""
    count = 0
    for rows in chunks:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        fh.write(buffer.getvalue())
        count += len(rows)
        if progress:
            progress(len(rows))
    return count


def write_csv(path: Path, head: list[str], chunks, progress: Progress | None = None) -> int:
    """UTF-8 with a byte-order mark, so Excel shows 中文 correctly."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")
        csv.writer(fh).writerow(head)
        return _csv_chunks(fh, chunks, progress)


WRITERS = {"xlsx": write_xlsx, "csv": write_csv}
FORMATS = tuple(WRITERS)


def export_to_file(
    selection: CommentSelection,
    fmt: str,
    path: Path,
    locale: str,
    base_url: str,
    progress: Progress | None = None,
    *,
    parallel: bool = False,
) -> int:
    """Write the selection to `path`; the number of rows written.

    `parallel` lets a csv of PARALLEL_MIN_ROWS or more be written by two processes. Only a single-threaded
    process may ask for it (the CLI, the RQ worker): a fork from a threaded web worker could inherit a lock
    held by another thread."""
    if fmt not in FORMATS:
        raise ExportError(_l("Unknown export format '%(format)s'.", format=fmt))
    try:
        if parallel and fmt == "csv":
            split = _split_point(selection)
            if split is not None:
                return _parallel_csv(selection, split, path, header(locale), base_url, progress)
        if parallel and fmt == "xlsx" and _worth_two_processes(selection):
            return write_xlsx(path, header(locale), _rows_from_child(selection, base_url), progress)
        return WRITERS[fmt](path, header(locale), export_rows(selection, base_url), progress)
    except (OSError, FileCreateError) as exc:
        problem = outages.disk_problem(exc)
        if problem is None:
            raise
        log.exception("writing the export %s failed", path)
        _remove(path)
        raise disk_error(problem) from exc


def disk_error(problem: str) -> ExportError:
    """What the moderator reads when the disk refused an export (`problem` as from outages.disk_problem)."""
    if problem == "full":
        return ExportError(_l("The export was not written: the server's disk is full. Tell an administrator."))
    return ExportError(
        _l("The export was not written: the exports folder cannot be written to. Tell an administrator.")
    )


def _remove(path: Path) -> None:
    """Remove what a failed write left, if anything (a folder that refuses keeps nothing of it anyway)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.exception("could not remove %s", path)


# -- csv on two processes ----------------------------------------------------------------------------
# Reading a million rows through the driver costs about as much as the csv module's writing them; a
# second process exports the upper half of the primary keys at the same time, and its part is appended.
PARALLEL_MIN_ROWS = 200_000


def _worth_two_processes(selection: CommentSelection) -> bool:
    return (os.cpu_count() or 1) >= 2 and count_selected(selection) >= PARALLEL_MIN_ROWS


def _split_point(selection: CommentSelection) -> int | None:
    """The id splitting the selection in half, when two processes are worth it."""
    if (os.cpu_count() or 1) < 2 or selection.id_after or selection.id_through:
        return None
    total = count_selected(selection)
    if total < PARALLEL_MIN_ROWS:
        return None
    return db.session.scalar(
        select(Comment.id).where(*selection_clauses(selection)).order_by(Comment.id).offset(total // 2).limit(1)
    )


def _export_part(selection: CommentSelection, part: Path, base_url: str, url, done) -> None:
    """The child process: its own engine and connection (never the parent's), its half into `part`."""
    status = 1
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with Session(engine) as session, part.open("w", encoding="utf-8", newline="") as fh:

            def count(rows: int) -> None:
                with done.get_lock():
                    done.value += rows

            _csv_chunks(fh, export_rows(selection, base_url, session=session), count)
        status = 0
    except BaseException:
        log.exception("export part %s failed", part)
    finally:
        os._exit(status)


def _parallel_csv(selection: CommentSelection, split: int, path: Path, head, base_url, progress) -> int:
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    part = path.with_name(path.name + ".part")
    upper = replace(selection, id_after=split)
    lower = replace(selection, id_through=split)
    db.session.commit()  # no open transaction is carried into the child
    log.info("csv export on two processes: ids above %d in the second", split)
    source = (replica_engine() or db.engine).url  # the second half reads where the first does
    child = context.Process(target=_export_part, args=(upper, part, base_url, source, done), daemon=True)
    child.start()
    reported = [0]

    def report(rows: int) -> None:
        if progress:
            with done.get_lock():
                theirs = done.value
            progress(rows + theirs - reported[0])
            reported[0] = theirs

    try:
        count = write_csv(path, head, export_rows(lower, base_url), report)
        child.join()
        if child.exitcode != 0:
            raise ExportError(_l("The second export process failed; see the log."))
        with path.open("ab") as out, part.open("rb") as theirs:
            shutil.copyfileobj(theirs, out, 1024 * 1024)
        report(0)
        return count + done.value
    finally:
        if child.is_alive():
            child.terminate()
        part.unlink(missing_ok=True)


# -- xlsx: rows read in a second process -------------------------------------------------------------
# xlsxwriter's writing takes most of an xlsx export and cannot be split; reading and building the rows (the
# driver's decoding, the look-ups) runs beside it in a forked process, which hands each chunk over a pipe. The
# pipe's buffer holds the reader back when it gets ahead: memory stays at a chunk or two. (Pickle carries
# only what our own forked child wrote.)
def _produce_rows(selection: CommentSelection, base_url: str, url, pipe) -> None:
    """The child process: its own engine and connection (never the parent's); each chunk pickled into `pipe`,
    then an empty message for the end."""
    status = 1
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with Session(engine) as session:
            for rows in export_rows(selection, base_url, session=session):
                pipe.send_bytes(pickle.dumps(rows, pickle.HIGHEST_PROTOCOL))
        pipe.send_bytes(b"")
        status = 0
    except BaseException:
        log.exception("export reader process failed")
    finally:
        pipe.close()
        os._exit(status)


def _rows_from_child(selection: CommentSelection, base_url: str):
    """The export's chunks of rows, read and built by a forked process."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    db.session.commit()  # no open transaction is carried into the child
    source = (replica_engine() or db.engine).url
    log.info("xlsx export: the rows are read in a second process")
    child = context.Process(target=_produce_rows, args=(selection, base_url, source, sending), daemon=True)
    child.start()
    sending.close()  # the child holds the only writing end: its exit ends the pipe
    try:
        while data := receiving.recv_bytes():
            yield pickle.loads(data)  # noqa: S301  # nosec B301
    except EOFError:
        raise ExportError(_l("The export's reading process failed; see the log.")) from None
    finally:
        receiving.close()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
