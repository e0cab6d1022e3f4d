"""Export of every comment of the benchmark data set (cms_bench on MariaDB: 50,000 users, 100,000 posts,
1,000,000 comments): peak memory (target < 150 MB) and time within 1.3× of the writer library (xlsxwriter in
constant-memory mode; the csv module) writing the same rows from memory, and next to the plain fetch of the same
rows through PyMySQL (the exporter's own SELECT and chunks, rows discarded), the floor the driver sets."""

import argparse
import json
import os
import statistics
import subprocess
import textwrap

import sqlalchemy as sa
from common import OUT, PYTHON, ROOT, progress, write_section
from console import DEFAULT_URL, PRODUCT_ENV

TARGET_RATIO, TARGET_MB = 1.3, 150
TABLE_HEAD = (
    "| format | rows | CMS export | library alone | × library | plain fetch | × fetch | CPU: export / library / fetch "
    "| peak RSS | file | load | "
    f"<{TARGET_MB} MB, ≤{TARGET_RATIO}× library |"
)

# Each measurement runs in a fresh process, its peak RSS read from /proc/self/status (VmHWM, the peak of the memory
# the process has held since its exec): getrusage's ru_maxrss carries over, across exec, the peak of the process
# that started it, which under `make bench` is the runner after the console benchmark (196 MB). The CMS export is what
# `flask cms export-comments` does: parallel=True lets a large csv be written by two processes. PEAK runs first.
PEAK = """
import resource

def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: the same, as getrusage says
"""

CMS_EXPORT = """
import json, resource, sys, time
from pathlib import Path
from cms import create_app
from cms.comments import CommentSelection, count_selected
from cms.exports import export_to_file
app = create_app("production")
with app.app_context():
    total = count_selected(CommentSelection())
    before = peak_mb()
    cpu = time.process_time()
    done = [0]
    def progress(rows):
        done[0] += rows
        if done[0] % 200_000 < rows:
            print(f"    {done[0]:,} / {total:,} rows", file=sys.stderr, flush=True)
    start = time.perf_counter()
    rows = export_to_file(
        CommentSelection(), sys.argv[1], Path(sys.argv[2]), "en", "https://news.example", progress, parallel=True
    )
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + children.ru_utime + children.ru_stime
print(json.dumps({"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "rss_before_mb": before,
                  "peak_rss_mb": peak_mb(),
                  "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

LIBRARY_ONLY = """
import csv, json, resource, sys, time
import xlsxwriter
from cms import create_app
from cms.comments import CommentSelection
from cms.exports import export_rows, header
fmt, path = sys.argv[1], sys.argv[2]
app = create_app("production")
with app.app_context():
    head = header("en")
    rows = [row for chunk in export_rows(CommentSelection(), "https://news.example") for row in chunk]
print(f"    {len(rows):,} rows in memory; writing", file=sys.stderr, flush=True)
start, cpu = time.perf_counter(), time.process_time()
if fmt == "xlsx":
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, head)
    number, string = sheet.write_number, sheet.write_string
    for r, row in enumerate(rows, start=1):
        number(r, 0, row[0])
        for c in range(1, 8):
            string(r, c, row[c])
    book.close()
else:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\\ufeff")
        writer = csv.writer(fh)
        writer.writerow(head)
        writer.writerows(rows)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"rows": len(rows), "seconds": seconds, "cpu_seconds": cpu,
                  "peak_rss_mb": peak_mb()}))
"""

# The comments' SELECT exactly as the exporter sends it, chunk by chunk (the exporter's own reader), rows
# discarded: what PyMySQL's decoding alone costs. "one": the xlsx's SELECT (six columns) on one process. "split":
# the csv's (four columns, the comment's cells written by the server), the upper half of the ids fetched by a
# forked process at the same time, as the two-process csv export splits them.
PLAIN_FETCH = """
import json, os, resource, sys, time
from dataclasses import replace
import sqlalchemy as sa
from sqlalchemy.orm import Session
from cms import create_app
from cms.comments import CommentSelection, count_selected
from cms.exports.rows import CHUNK, RowStyle, _comment_chunks, comment_csv_cells
from cms.extensions import db
from cms.models import Comment
app = create_app("production")

def fetch(selection, session):
    rows = 0
    cells = comment_csv_cells(RowStyle(), db.engine.dialect.name) if sys.argv[1] == "split" else None
    for chunk in _comment_chunks(selection, CHUNK, session, RowStyle(), cells):
        rows += len(chunk)
    return rows

with app.app_context():
    selection = CommentSelection()
    child = None
    if sys.argv[1] == "split":
        total = count_selected(selection)
        split = db.session.scalar(sa.select(Comment.id).order_by(Comment.id).offset(total // 2).limit(1))
        db.session.commit()
        selection = replace(selection, id_through=split)
        child = os.fork()
        if child == 0:
            with Session(sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)) as own:
                fetch(replace(selection, id_through=None, id_after=split), own)
            os._exit(0)
    start, cpu = time.perf_counter(), time.process_time()
    rows = fetch(selection, db.session)
    if child:
        os.waitpid(child, 0)
        rows = count_selected(CommentSelection())
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + children.ru_utime + children.ru_stime
print(json.dumps({"rows": rows, "seconds": seconds, "cpu_seconds": cpu,
                  "peak_rss_mb": peak_mb(),
                  "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def measure(script: str, arg: str, env: dict, fmt: str | None = None) -> dict:
    """Run `script` in a fresh process; its JSON result with the load average before and after."""
    path = OUT / f"export-bench.{fmt or 'none'}"
    before = load()
    result = subprocess.run(
        [PYTHON, "-c", PEAK + textwrap.dedent(script), arg, str(path)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["load_before"], data["load_after"] = before, load()
    if path.exists():
        data["size_mb"] = path.stat().st_size / 1024 / 1024
        path.unlink()
    return data


def comment_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM comment")).scalar() or 0
    except sa.exc.DBAPIError:
        return 0
    finally:
        engine.dispose()


def summary(runs: list[dict]) -> dict:
    """The best run (by time), with the median time and every run's time beside it."""
    best = min(runs, key=lambda r: r["seconds"])
    times = [r["seconds"] for r in runs]
    cpu = statistics.median(r.get("cpu_seconds", 0.0) for r in runs)
    return {**best, "median": statistics.median(times), "times": times, "cpu_median": cpu}


def seconds(result: dict) -> str:
    if len(result["times"]) == 1:
        return f"{result['seconds']:.1f} s"
    return f"{result['seconds']:.1f} s (median {result['median']:.1f})"


def rss(result: dict) -> str:
    child = f" + {result['child_peak_rss_mb']:.0f} MB forked" if result.get("child_peak_rss_mb") else ""
    return f"{result['peak_rss_mb']:.0f} MB{child}"


def loads(runs: list[dict]) -> str:
    values = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
    return f"{min(values):.2f}–{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CMS_BENCH_EXPORT_DATABASE_URL", DEFAULT_URL),
        help="the data set to export (default: cms_bench on MariaDB, as make bench BENCH=console creates it)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; best and median reported")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--label", default="", help="a note printed above the figures")
    args = parser.parse_args()
    url, formats = args.database_url, args.formats.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    total = comment_count(url)
    if not total:
        raise SystemExit(f"no comments at {url}: `make bench BENCH=console` creates the benchmark data set")
    progress(f"{total:,} comments at {url}; load average {'/'.join(f'{v:.2f}' for v in load())}")
    env = {**PRODUCT_ENV, "CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("CMS_DATABASE_REPLICA_URL", None)

    plan = [("fetch", "one", PLAIN_FETCH, None), ("fetch", "split", PLAIN_FETCH, None)]
    for fmt in formats:
        plan += [(fmt, "cms", CMS_EXPORT, fmt), (fmt, "library", LIBRARY_ONLY, fmt)]
    runs: dict[tuple[str, str], list[dict]] = {}
    for round_number in range(1, args.repeat + 1):
        for name, kind, script, fmt in plan:
            progress(f"round {round_number}/{args.repeat}: {name}, {kind}")
            result = measure(script, fmt or kind, env, fmt)
            runs.setdefault((name, kind), []).append(result)
            progress(
                f"  {result['seconds']:.1f} s, peak {rss(result)}, load {result['load_before'][0]:.2f} → "
                f"{result['load_after'][0]:.2f}"
            )
    best = {key: summary(value) for key, value in runs.items()}
    fetch_one, fetch_split = best[("fetch", "one")], best[("fetch", "split")]

    lines, verdicts = [], []
    for fmt in formats:
        cms, lib = best[(fmt, "cms")], best[(fmt, "library")]
        two = fmt == "csv" and bool(cms.get("child_peak_rss_mb"))  # an xlsx reads its rows in one process
        floor = fetch_split if two else fetch_one
        ratio = cms["seconds"] / lib["seconds"]
        ok = ratio <= TARGET_RATIO and max(cms["peak_rss_mb"], cms.get("child_peak_rss_mb", 0)) < TARGET_MB
        verdicts.append(ok)
        lines.append(
            f"| {fmt} | {cms['rows']:,} | {seconds(cms)} | {seconds(lib)} | {ratio:.2f}× "
            f"(median {cms['median'] / lib['median']:.2f}×) | {floor['seconds']:.1f} s "
            f"({'two' if two else 'one'} process{'es' if two else ''}) | {cms['seconds'] / floor['seconds']:.2f}× | "
            f"{cms['cpu_median']:.1f} / {lib['cpu_median']:.1f} / {floor['cpu_median']:.1f} s | "
            f"{rss(cms)} | {cms['size_mb']:.0f} MB | {loads(runs[(fmt, 'cms')])} | {'met' if ok else 'NOT met'} |"
        )
    first = min(r["load_before"] for rs in runs.values() for r in rs)
    label = f"{args.label}\n\n" if args.label else ""
    body = f"""
{label}All {total:,} comments of the benchmark data set (`cms_bench`: 50,000 users, 100,000 posts, 500,000 follows;
{url.split("@")[-1].split("?")[0]}), every column the moderators get, formula neutralisation included, exported
as `flask cms export-comments` does (`parallel=True`: a csv of this size is written by two forked processes, one
for each half of the ids, whose parts the parent joins; an xlsx's rows are read in one forked process).
Production settings; each measurement in a fresh process, {args.repeat} round(s), the measurements of a round one
after another; the best run is shown with the median of the runs beside it.

- **library alone**: the writer library (csv module; xlsxwriter in constant-memory mode) writing the same rows
  from a list already in memory (about 520 MB; only the writing is timed).
- **plain fetch**: the exporter's SELECT of the comments, chunk by chunk ({fetch_one["rows"]:,} rows), through
  PyMySQL alone, rows discarded. The xlsx's (six columns) on one process: {fetch_one["seconds"]:.1f} s (median
  {fetch_one["median"]:.1f} s, peak {fetch_one["peak_rss_mb"]:.0f} MB). The csv's (four columns: the server
  writes the status, date and body as csv text) on two processes, one for each half of the ids:
  {fetch_split["seconds"]:.1f} s (median {fetch_split["median"]:.1f} s). The floor a driver decoding every row in
  Python sets for each. The post and author look-ups are not in it.
- **CPU**: the median over the runs of the Python processes' CPU time (user + system, the forked processes
  included; the library's only while writing); the server's is not in it. Less disturbed by other work
  on the machine than the wall-clock seconds.
- **peak RSS**: the export process's peak resident set size, interpreter and application included, and "+ N MB
  forked": the largest of the processes it forked (most of it pages shared with the parent).
- **load**: the 1-minute load average before and after the export runs (2 cores; lowest at a start
  {first[0]:.2f}).

{TABLE_HEAD}
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
{chr(10).join(lines)}
"""
    write_section("Comment export of every comment (MariaDB, benchmark data set)", body)
    progress("written to benchmarks/results.md" + ("" if all(verdicts) else " (a target was not met)"))


if __name__ == "__main__":
    main()
