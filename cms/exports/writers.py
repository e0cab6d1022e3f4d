"""Writing export rows to a file: xlsxwriter in constant-memory mode (a formatted "Comments" sheet after an
"About" one) or the csv module, so memory stays flat whatever the size; a large csv in id order is written by two
processes, each taking half of the ids."""

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
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
import xlsxwriter
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from xlsxwriter.exceptions import FileCreateError

from cms import outages
from cms.comments import CommentSelection, selection_clauses, selection_size
from cms.domain import DomainError
from cms.exports.about import about_export
from cms.exports.rows import ID_ORDER, RowOrder, RowStyle, csv_text, export_rows, header, order_for, status_labels
from cms.extensions import db, replica_engine
from cms.models import Comment, utcnow

log = logging.getLogger("cms.exports")

Progress = Callable[[int], None]


class ExportError(DomainError):
    """An export request refused; the message is shown to the moderator."""


# Column widths in characters, in COLUMNS' order: enough for an id, a title, a URL, a name, an address, a status
# and a date to show whole, and a long line of a comment.
WIDTHS = (10, 40, 45, 20, 30, 14, 20, 80)
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
About = Callable[[int], list[tuple[str, object]]]  # the About sheet's lines, given the number of rows written


def write_xlsx(
    path: Path | BinaryIO, head: list[str], chunks, progress: Progress | None = None, about: About | None = None
) -> int:
    """xlsxwriter in constant-memory mode: each row goes to disk as it is written. The rows' dates are serial
    numbers (`RowStyle.serial_dates`), shown with a date format. The "Comments" sheet has its widths, a bold
    header frozen above an autofilter, and opens first; `about` fills an "About" sheet before it. Its working
    files go into a folder of their own in the system's temporary folder, removed however the export ends
    (xlsxwriter leaves them behind when writing fails)."""
    with tempfile.TemporaryDirectory(prefix="cms-xlsx-", ignore_cleanup_errors=True) as workdir:
        workbook = xlsxwriter.Workbook(
            str(path) if isinstance(path, Path) else path,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": workdir},
        )
        bold = workbook.add_format({"bold": True})
        dated = workbook.add_format({"num_format": DATE_FORMAT})
        about_sheet = workbook.add_worksheet("About") if about else None
        sheet = workbook.add_worksheet("Comments")
        sheet.activate()
        for column, width in enumerate(WIDTHS):
            sheet.set_column(column, column, width)
        sheet.write_row(0, 0, head, bold)
        sheet.freeze_panes(1, 0)
        number, string = sheet.write_number, sheet.write_string
        row_number = 0
        for rows in chunks:
            for row in rows:
                row_number += 1
                number(row_number, 0, row[0])
                for column in range(1, 6):
                    string(row_number, column, row[column])
                number(row_number, 6, row[6], dated)
                string(row_number, 7, row[7])
            if progress:
                progress(len(rows))
        sheet.autofilter(0, 0, row_number, len(head) - 1)
        if about_sheet is not None and about is not None:
            _write_about(about_sheet, about(row_number), bold, dated)
        try:
            workbook.close()
        except FileCreateError as error:
            _close_abandoned_zip(error)
            raise
    return row_number


# The moments an Excel date shows as they are: from 1 March 1900 (before it, Excel's 29 February 1900 shifts them
# a day) to the end of 9999.
EXCEL_DATES = (datetime(1900, 3, 1), datetime(9999, 12, 31, 23, 59, 59))


def _write_about(sheet, lines: list[tuple[str, object]], bold, dated) -> None:
    """A label and its value a line; numbers and dates typed as on the Comments sheet, text as text."""
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 60)
    for line, (label, value) in enumerate(lines):
        sheet.write_string(line, 0, label, bold)
        if isinstance(value, datetime) and EXCEL_DATES[0] <= value <= EXCEL_DATES[1]:
            sheet.write_datetime(line, 1, value, dated)
        elif isinstance(value, datetime):  # Excel shows #VALUE! past its dates, and a day early before March 1900
            sheet.write_string(line, 1, value.isoformat(sep=" "))
        elif isinstance(value, int | float):
            sheet.write_number(line, 1, value)
        else:
            sheet.write_string(line, 1, str(value))


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
    """Each chunk, csv text and its number of rows (`rows.csv_text`), written in one call."""
    count = 0
    for text, rows in chunks:
        fh.write(text)
        count += rows
        if progress:
            progress(rows)
    return count


def write_csv(path: Path | BinaryIO, head: list[str], chunks, progress: Progress | None = None) -> int:
    """UTF-8 with a byte-order mark, so Excel shows 中文 correctly. `chunks` are csv text with their number of
    rows, as `rows.csv_text` gives them."""
    if isinstance(path, Path):
        with path.open("w", encoding="utf-8", newline="") as fh:
            return _write_csv(fh, head, chunks, progress)
    text = io.TextIOWrapper(path, encoding="utf-8", newline="")
    try:
        return _write_csv(text, head, chunks, progress)
    finally:
        text.detach()  # the caller's buffer stays open


def _write_csv(fh, head: list[str], chunks, progress: Progress | None) -> int:
    fh.write("\ufeff")
    csv.writer(fh).writerow(head)
    count = _csv_chunks(fh, chunks, progress)
    fh.flush()
    return count


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
    order: RowOrder | None = None,
    exported_at: datetime | None = None,
) -> int:
    """Write the selection to `path`; the number of rows written.

    The rows follow `order` (the comment list's) where an index walks it, else id order (`rows.order_for`), which
    an xlsx's About sheet says, with the filters and `exported_at` (default now). Headers and statuses are in
    `locale`. `parallel` lets a csv of PARALLEL_MIN_ROWS or more in id order be written by two processes, and an
    xlsx's rows be read in a second one. Only a single-threaded process may ask for it (the CLI, the RQ
    worker): a fork from a threaded web worker could inherit a lock held by another thread."""
    if fmt not in FORMATS:
        raise ExportError(_l("Unknown export format '%(format)s'.", format=fmt))
    try:
        return _write(selection, fmt, path, locale, base_url, progress, parallel, order, exported_at)
    except (OSError, FileCreateError) as exc:
        problem = outages.disk_problem(exc)
        if problem is None:
            raise
        log.error("writing the export %s failed: %s", path, exc)  # a disk's refusal: its words say all
        _remove(path)
        raise disk_error(problem) from exc


def export_to_bytes(
    selection: CommentSelection,
    fmt: str,
    locale: str,
    base_url: str,
    *,
    order: RowOrder | None = None,
    exported_at: datetime | None = None,
) -> tuple[bytes, int]:
    """The file `export_to_file` would write, in memory (small selections only), and its number of rows."""
    if fmt not in FORMATS:
        raise ExportError(_l("Unknown export format '%(format)s'.", format=fmt))
    buffer = io.BytesIO()
    written = _write(selection, fmt, buffer, locale, base_url, None, False, order, exported_at)
    return buffer.getvalue(), written


def _write(selection, fmt, target, locale, base_url, progress, parallel, order, exported_at) -> int:
    used = order_for(selection, order)
    style = RowStyle(order=used, statuses=status_labels(locale), serial_dates=fmt == "xlsx")
    head = header(locale)
    if fmt == "csv":
        split = _split_point(selection) if parallel and used == ID_ORDER else None
        if split is not None:
            return _parallel_csv(selection, split, target, head, base_url, progress, style)
        return write_csv(target, head, csv_text(selection, base_url, style=style), progress)
    when = exported_at or utcnow()

    def about(rows: int) -> list[tuple[str, object]]:
        return about_export(selection, order, used, locale, when, rows)

    if parallel and _worth_two_processes(selection):
        chunks = _rows_from_child(selection, base_url, style)
    else:
        chunks = export_rows(selection, base_url, style=style)
    return write_xlsx(target, head, chunks, progress, about)


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
# Reading a million rows through the driver costs about as much as the csv module's writing them; two forked
# processes each export half of the primary keys at the same time, and the parent joins their parts behind the
# header. The parent exports nothing itself: a process holding the application (about 120 MB) and a half's post and
# author caches stays under 150 MB when it starts from the fork, while the parent, doing the same, went to 156 MB.
PARALLEL_MIN_ROWS = 200_000
PROGRESS_EVERY = 0.5  # seconds between the parent's progress reports while the two processes write


def _worth_two_processes(selection: CommentSelection) -> bool:
    return (os.cpu_count() or 1) >= 2 and selection_size(selection) >= PARALLEL_MIN_ROWS


def _split_point(selection: CommentSelection) -> int | None:
    """The id splitting the selection in two, when two processes are worth it: the middle of its lowest and highest
    id. A newsroom's comment ids run close together, whatever their status, so each half holds about as many; the
    exact median's OFFSET read half the index first (0.28 s of a 3.5 s export of a million comments)."""
    if (os.cpu_count() or 1) < 2 or selection.id_after or selection.id_through:
        return None
    if selection_size(selection) < PARALLEL_MIN_ROWS:
        return None
    ids = select(sa.func.min(Comment.id), sa.func.max(Comment.id)).where(*selection_clauses(selection))
    lowest, highest = db.session.execute(ids).one()
    return (lowest + highest) // 2


def _export_part(selection: CommentSelection, part: Path, base_url: str, url, done, style: RowStyle) -> None:
    """A child process: its own engine and connection (never the parent's), its half into `part`."""
    status = 1
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with Session(engine) as session, part.open("w", encoding="utf-8", newline="") as fh:

            def count(rows: int) -> None:
                with done.get_lock():
                    done.value += rows

            _csv_chunks(fh, csv_text(selection, base_url, session=session, style=style), count)
        status = 0
    except BaseException:
        log.exception("export part %s failed", part)
    finally:
        os._exit(status)


def _parallel_csv(selection: CommentSelection, split: int, path: Path, head, base_url, progress, style) -> int:
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    halves = {"lower": replace(selection, id_through=split), "upper": replace(selection, id_after=split)}
    parts = {name: path.with_name(f"{path.name}.{name}.part") for name in halves}
    db.session.commit()  # no open transaction is carried into the children
    log.info("csv export on two processes: ids up to %d in one, above it in the other", split)
    source = (replica_engine() or db.engine).url  # both halves read where the export would
    children = [
        context.Process(target=_export_part, args=(half, parts[name], base_url, source, done, style), daemon=True)
        for name, half in halves.items()
    ]
    for child in children:
        child.start()
    reported = 0
    try:
        while any(child.is_alive() for child in children):
            next(child for child in children if child.is_alive()).join(PROGRESS_EVERY)
            reported = _report(done, reported, progress)
        if any(child.exitcode != 0 for child in children):
            raise ExportError(_l("One of the two export processes failed; see the log."))
        write_csv(path, head, [])  # the byte-order mark and the header, then both halves' rows
        with path.open("ab") as out:
            for part in parts.values():
                with part.open("rb") as written:
                    shutil.copyfileobj(written, out, 1024 * 1024)
        _report(done, reported, progress)
        return done.value
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        for part in parts.values():
            part.unlink(missing_ok=True)


def _report(done, reported: int, progress: Progress | None) -> int:
    """Tell `progress` the rows written since `reported`; the new total."""
    with done.get_lock():
        total = done.value
    if progress and total > reported:
        progress(total - reported)
    return total


# -- xlsx: rows read in a second process -------------------------------------------------------------
# xlsxwriter's writing takes most of an xlsx export and cannot be split; reading and building the rows (the
# driver's decoding, the look-ups) runs beside it in a forked process, which hands each chunk over a pipe. The
# pipe's buffer holds the reader back when it gets ahead: memory stays at a chunk or two. (Pickle carries
# only what our own forked child wrote.)
def _produce_rows(selection: CommentSelection, base_url: str, url, pipe, style: RowStyle) -> None:
    """The child process: its own engine and connection (never the parent's); each chunk pickled into `pipe`,
    then an empty message for the end."""
    status = 1
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with Session(engine) as session:
            for rows in export_rows(selection, base_url, session=session, style=style):
                pipe.send_bytes(pickle.dumps(rows, pickle.HIGHEST_PROTOCOL))
        pipe.send_bytes(b"")
        status = 0
    except BaseException:
        log.exception("export reader process failed")
    finally:
        pipe.close()
        os._exit(status)


def _rows_from_child(selection: CommentSelection, base_url: str, style: RowStyle):
    """The export's chunks of rows, read and built by a forked process."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    db.session.commit()  # no open transaction is carried into the child
    source = (replica_engine() or db.engine).url
    log.info("xlsx export: the rows are read in a second process")
    child = context.Process(target=_produce_rows, args=(selection, base_url, source, sending, style), daemon=True)
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
