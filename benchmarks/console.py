"""The staff console at a newsroom's size (50,000 users, 100,000 posts, 1,000,000 comments, 500,000 follows on
MariaDB) against a stock Flask-Admin ModelView app over the same models and tables (benchmarks/stock_admin.py).

Per list URL: p50/p95 of both apps under gunicorn (requests alternating, a new connection each) and their ratio;
the product's statements per request at two page sizes and two pages; the rows each statement examines (the
session's Handler_read_* deltas on MariaDB) and, for the slowest ones, their EXPLAIN. Nothing is asserted.
"""

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from common import PYTHON, ROOT, machine, progress, run, wait_for_port, write_section

DEFAULT_URL = "mysql+pymysql://root:@127.0.0.1:3306/cms_bench?charset=utf8mb4"
SCALE = {"users": 50_000, "posts": 100_000, "comments": 1_000_000, "follows": 500_000}
SMALL = {"users": 500, "posts": 1_000, "comments": 20_000, "follows": 2_000}
CHARSET = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
TABLES = {"users": "user", "posts": "post", "comments": "comment", "follows": "follow"}
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
PRODUCT_PORT, STOCK_PORT, TRIVIAL_PORT = 8111, 8112, 8113
DEEP_OFFSET = 25_000  # rows skipped by the "deep page" URL, whatever each app's page size
# The ceiling per statement of a list request: "about 10,000" rows. A capped count (LIST_COUNT_CAP) reads
# the cap's entries and the one past it, which is what tells "more than 10,000" from 10,000, and a count over a
# derived table of cap + 1 rows reads once more to find its end: two entries over the cap are what the capped
# count costs, not a scan.
ROWS_EXAMINED_LIMIT = 10_000
ROWS_PAST_THE_CAP = 2
# The product with production settings; the secrets and salt are fixed so the seeded passwords and the
# administrator's second factor keep working.
PRODUCT_ENV = {
    "CMS_CONFIG": "production",
    "CMS_SECRET_KEY": "benchmark-only-secret",
    "CMS_SECURITY_PASSWORD_SALT": "benchmark-only-salt",
    "CMS_SECURITY_TOTP_SECRETS": '{"1": "benchmark-only-totp-secret"}',
    "CMS_REDIS_URL": "redis://127.0.0.1:6379/3",
}
ADMIN_EMAIL, ADMIN_PASSWORD = "administrator@example.com", "demo-password"  # cms.seed.demo_accounts
ADMIN_TOTP_KEY = "NEWSROOMDEMOKEYSTAFFAPPTWOFACTOR"  # cms.seed.DEMO_TOTP_KEY: the sign-in code's authenticator key

# The measured URLs, the one place to edit them: (name, product URL, stock URL). Fields in braces come from the
# data (`facts`): the search word, the post, the deep pages, and the stock app's numbered filter arguments.
URLS = [
    ("comments, all (the list opens on Pending)", "/admin/comment/?status=all", "/admin/comment/"),
    (
        "comments, status = pending",
        "/admin/comment/?flt0_status_equals=pending",
        "/admin/comment/?{stock_comment_status}=pending",
    ),
    ("comments of one post", "/admin/comment/?{product_post_filter}", "/admin/comment/?{stock_comment_post}={post_id}"),
    ("comment search, a word in ~2 % of bodies", "/admin/comment/?search={word}", "/admin/comment/?search={word}"),
    (
        f"comments, offset ~{DEEP_OFFSET:,}",
        "/admin/comment/?page={product_deep_page}",
        "/admin/comment/?page={stock_deep_page}",
    ),
    ("posts (default)", "/admin/post/", "/admin/post/"),
    ("posts, status = draft", "/admin/post/?flt0_status_equals=draft", "/admin/post/?{stock_post_status}=draft"),
    ("users, search by a fragment", "/admin/user/?search={fragment}", "/admin/user/?search={fragment}"),
    # Terms most rows hold: the search index's match set is large, so the product reads a page along the list's
    # order instead (SEARCH_COMMON_MATCHES, SEARCH_COMMON_SHARE) and counts in the search table.
    ("posts, search the commonest title word", "/admin/post/?search={title_word}", "/admin/post/?search={title_word}"),
    ("users, search the commonest email domain", "/admin/user/?search={domain}", "/admin/user/?search={domain}"),
]
# Light pages requested over and over while an export runs in the background: the slowest of them is what a
# newsroom notices.
EXPORT_PROBES = ["/admin/comment/", "/admin/post/", "/en/"]
# The product's floor: a console list with no rows (the seed adds no blocked words). What every signed-in page
# pays whatever its list (session, second factor, permissions, the layout), measured like the URLs above.
FLOOR_URL = "/admin/blockedword/"
# The floors alternate with this stock URL (the first of URLS, all comments): a worker then sleeps as long between
# its requests as the product's do there, and what waking costs on this machine is part of every time above.
FLOOR_BETWEEN = 0

# The comment list's filter by post id, once the product offers it; until then the post-title filter.
PRODUCT_POST_ID_ARG = "post_id_equals"


# -- the data set ------------------------------------------------------------------------------------------
def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        return {
            name: conn.execute(sa.text(f"SELECT COUNT(*) FROM `{table}`")).scalar() if table in tables else 0  # noqa: S608
            for name, table in TABLES.items()
        }


def ensure_data(url: str, scale: dict) -> dict[str, int]:
    """Reuse the data set when every table holds its rows; otherwise build it afresh (about 4 minutes)."""
    parsed = sa.engine.make_url(url)
    server = sa.create_engine(parsed.set(database=""))
    engine = sa.create_engine(url)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{parsed.database}` {CHARSET}"))
    counts = row_counts(engine)
    env = {**PRODUCT_ENV, "CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    flask = [PYTHON, "-m", "flask", "--app", "wsgi", "cms"]
    if all(counts[name] >= scale[name] for name in scale):
        progress("data set present: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
        progress("applying migrations, if any (flask cms init)")
        run(flask + ["init"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    else:
        if any(counts.values()):
            progress(f"incomplete data set ({counts}): recreating the database {parsed.database}")
            with server.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE `{parsed.database}`"))
                conn.execute(sa.text(f"CREATE DATABASE `{parsed.database}` {CHARSET}"))
        progress("creating the schema (flask cms init)")
        run(flask + ["init"], env=env, cwd=ROOT)
        progress(f"seeding {', '.join(f'{n:,} {name}' for name, n in scale.items())} (a few minutes)")
        started = time.monotonic()
        run(flask + ["seed", *(f"--{name}={n}" for name, n in scale.items())], env=env, cwd=ROOT)
        progress(f"seeded in {time.monotonic() - started:.0f} s")
        counts = row_counts(engine)
    # Data loaded under another secret has other password hashes, and bulk loads bypass the comment counts.
    progress("checking the administrator's password and the comment counts")
    run([PYTHON, "-c", ADMIN_PASSWORD_SCRIPT], env=env, cwd=ROOT)
    run(flask + ["check-counts", "--fix"], env=env, cwd=ROOT)
    engine.dispose()
    server.dispose()
    return counts


ADMIN_PASSWORD_SCRIPT = f"""
from flask_security import hash_password, verify_password
import sqlalchemy as sa
from cms import create_app
from cms.extensions import db
from cms.models import User
from cms.seed import demo_accounts
with create_app().app_context():
    demo_accounts()
    admin = db.session.execute(sa.select(User).where(User.email == {ADMIN_EMAIL!r})).scalar_one()
    if not verify_password({ADMIN_PASSWORD!r}, admin.password):
        admin.password = hash_password({ADMIN_PASSWORD!r})
        db.session.commit()
        print("  reset the administrator's password for this run's salt")
"""


def find_facts(url: str, product_page_size: int, stock_page_size: int, product_filters: set[str]) -> dict:
    """What the URLs need from the data: a word in ~2 % of comment bodies, a post with a typical number of
    comments, the deep pages, a username fragment, the commonest word of post titles and email domain."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        sample = conn.execute(sa.text("SELECT body FROM comment ORDER BY id LIMIT 20000")).scalars().all()
        share = Counter(w for body in sample for w in set(re.findall(r"[a-z]{5,}", body.lower())))
        word = min(share, key=lambda w: (abs(share[w] / len(sample) - 0.02), w))
        total = conn.execute(sa.text("SELECT COUNT(*) FROM comment")).scalar()
        matching = conn.execute(sa.text("SELECT COUNT(*) FROM comment WHERE body LIKE :p"), {"p": f"%{word}%"}).scalar()
        per_post = conn.execute(
            sa.text("SELECT post_id, COUNT(*) AS n FROM comment GROUP BY post_id ORDER BY n, post_id")
        ).all()
        post_id, post_comments = per_post[len(per_post) // 2]
        post_title = conn.execute(sa.text("SELECT title FROM post WHERE id = :id"), {"id": post_id}).scalar()
        titles = conn.execute(sa.text("SELECT title, COUNT(*) FROM post GROUP BY title")).all()  # the seed repeats
        posts = sum(n for _, n in titles)
        title_share: Counter[str] = Counter()
        for title, n in titles:
            for w in set(re.findall(r"[a-z]{4,}", title.lower())):
                title_share[w] += n
        title_word = max(title_share, key=lambda w: (title_share[w], w))
        title_matches = conn.execute(
            sa.text("SELECT COUNT(*) FROM post WHERE title LIKE :p"), {"p": f"%{title_word}%"}
        ).scalar()
        domain, domain_users = conn.execute(
            sa.text("SELECT SUBSTRING_INDEX(email, '@', -1) AS d, COUNT(*) AS n FROM user GROUP BY d ORDER BY n DESC")
        ).first()
        users = conn.execute(sa.text("SELECT COUNT(*) FROM user")).scalar()
    engine.dispose()
    if PRODUCT_POST_ID_ARG in product_filters:
        product_post_filter = f"flt0_{PRODUCT_POST_ID_ARG}={post_id}"
    else:
        product_post_filter = "flt0_post_title_contains=" + urllib.parse.quote_plus(post_title)
    return {
        "word": word,
        "word_share": matching / total,
        "post_id": post_id,
        "post_comments": post_comments,
        "post_title": post_title,
        "product_post_filter": product_post_filter,
        "product_deep_page": DEEP_OFFSET // product_page_size,
        "stock_deep_page": DEEP_OFFSET // stock_page_size,
        "fragment": "4242",
        "title_word": title_word,
        "title_word_share": title_matches / max(posts, 1),
        "domain": domain,
        "domain_share": domain_users / max(users, 1),
    }


# -- serving and requests ----------------------------------------------------------------------------------
def serve(app: str, port: int, env: dict, workers: int) -> subprocess.Popen:
    # The same generous timeout for both apps, so a slow page is measured rather than cut off at 30 s.
    command = [GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "warning"]
    process = subprocess.Popen(command + [app], cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    wait_for_port(port, timeout=60)
    return process


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait()


def fetch(port: int, path: str, cookie: str = "", method: str = "GET", body: str | None = None):
    """One request on a new connection: (status, seconds, headers, text)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, time.perf_counter() - started, response.getheaders(), text


def session_cookie(headers) -> str:
    cookies = [value.split(";", 1)[0] for name, value in headers if name.lower() == "set-cookie"]
    return "; ".join(c for c in cookies if c.startswith("session="))


def csrf_token_in(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def forget_sign_in_limits() -> None:
    """Clear the sign-in rate limits (Flask-Limiter's counters) in the benchmark's own Redis database: each run signs
    the administrator in a few times, and a morning of runs reached the account's 50 an hour."""
    import redis

    client = redis.Redis.from_url(PRODUCT_ENV["CMS_REDIS_URL"])
    keys = list(client.scan_iter("LIMITS:LIMITER/*"))
    if keys:
        client.delete(*keys)


def sign_in(port: int) -> str:
    """The session cookie of the seeded administrator, signed in through the login form and the code form."""
    forget_sign_in_limits()
    _, _, headers, page = fetch(port, "/login")
    form = urllib.parse.urlencode({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": csrf_token_in(page)})
    status, _, headers, _ = fetch(port, "/login", session_cookie(headers), "POST", form)
    cookie = session_cookie(headers)
    _, _, _, page = fetch(port, "/tf-validate", cookie)
    form = urllib.parse.urlencode({"code": admin_code(), "csrf_token": csrf_token_in(page)})
    status, _, headers, _ = fetch(port, "/tf-validate", cookie, "POST", form)
    cookie = session_cookie(headers) or cookie
    if status != 302 or not cookie or fetch(port, "/admin/comment/", cookie)[0] != 200:
        raise RuntimeError(f"could not sign in as {ADMIN_EMAIL} (the code form answered {status})")
    return cookie


def admin_code() -> str:
    """The code the administrator's authenticator app shows now."""
    from passlib.totp import TOTP

    return TOTP(key=ADMIN_TOTP_KEY, format="base32").generate().token


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Timing:
    name: str
    product_url: str
    stock_url: str
    product: list[float] = field(default_factory=list)
    stock: list[float] = field(default_factory=list)


def measure(
    timing: Timing, cookie: str, warmup: int, rounds: int, stock: bool = True, port: int = PRODUCT_PORT
) -> None:
    """`timing`'s URL on `port` (the product's by default), each request followed by the stock URL unless not
    `stock`."""
    for round_ in range(warmup + rounds):
        for target, path, sink, auth in (
            (port, timing.product_url, timing.product, cookie),
            *([(STOCK_PORT, timing.stock_url, timing.stock, "")] if stock else []),
        ):
            status, seconds, _, _ = fetch(target, path, auth)
            if status != 200:
                raise RuntimeError(f"{path} on port {target} answered {status}")
            if round_ >= warmup:
                sink.append(seconds)


def download(port: int, path: str, cookie: str) -> int:
    """Stream a response to nowhere; its size in bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    size = 0
    while chunk := response.read(1 << 20):
        size += len(chunk)
    conn.close()
    return size


@dataclass
class ExportRun:
    fmt: str
    rows: int = 0
    until_downloadable: float = 0.0
    download_seconds: float = 0.0
    size: int = 0
    idle: list[float] = field(default_factory=list)
    meanwhile: list[float] = field(default_factory=list)


def probe(cookie: str, sink: list[float]) -> None:
    for path in EXPORT_PROBES:
        status, seconds, _, _ = fetch(PRODUCT_PORT, path, cookie)
        if status != 200:
            raise RuntimeError(f"{path} answered {status} while measuring the export")
        sink.append(seconds)


def export_in_background(fmt: str, cookie: str, idle_rounds: int) -> ExportRun:
    """Every comment exported from the console: the time from the click until the file can be downloaded, with
    the light pages requested meanwhile (and, for comparison, before)."""
    run_ = ExportRun(fmt)
    for _ in range(idle_rounds):
        probe(cookie, run_.idle)
    started = time.perf_counter()
    # The "All" tab's export: a bare queue address means its pending comments (6adece1).
    status, _, headers, _ = fetch(PRODUCT_PORT, f"/admin/comment/export/{fmt}/?status=all", cookie)
    location = next((value for name, value in headers if name.lower() == "location"), "")
    job = re.search(r"/exports/([^/]+)/", location)
    if status != 302 or job is None:
        raise RuntimeError(f"the {fmt} export answered {status} {location!r}, not a background job")
    reported = started
    while True:
        probe(cookie, run_.meanwhile)
        _, _, _, text = fetch(PRODUCT_PORT, f"/admin/comment/exports/{job.group(1)}.json", cookie)
        state = json.loads(text)
        if state["status"] == "done":
            break
        if state["status"] == "failed":
            raise RuntimeError(f"the {fmt} export failed: {state['error']}")
        if time.perf_counter() - reported > 10:
            reported = time.perf_counter()
            progress(f"  {state['status']}: {state['done']:,} / {state['total']:,} rows")
        time.sleep(0.5)
    run_.until_downloadable = time.perf_counter() - started
    run_.rows = state["total"]
    started = time.perf_counter()
    run_.size = download(PRODUCT_PORT, state["download_url"], cookie)
    run_.download_seconds = time.perf_counter() - started
    return run_


def export_report(runs: list[ExportRun], loads, label: str) -> str:
    def spread(values: list[float]) -> str:
        return " / ".join(f"{x * 1000:,.0f}" for x in (statistics.median(values), percentile(values, 95), max(values)))

    rows = "\n".join(
        f"| {r.fmt} | {r.rows:,} | {r.until_downloadable:,.1f} s | "
        f"{r.download_seconds:,.1f} s, {r.size / 1e6:,.0f} MB | "
        f"{spread(r.meanwhile)} ({len(r.meanwhile)}) | {spread(r.idle)} ({len(r.idle)}) |"
        for r in runs
    )
    began, ended = (" / ".join(f"{x:.2f}" for x in load) for load in loads)
    note = f"**{label.rstrip('.')}.** " if label else ""
    return f"""
{note}Every comment exported from the console (`/admin/comment/export/<format>/?status=all`, the "All" tab, signed in
as the administrator): the product under gunicorn (production settings, 2 sync workers) with Redis, and one
`flask cms worker` running the job. "Until downloadable" runs from the click to the first status poll that offers
the file. Meanwhile the light pages {", ".join(f"`{p}`" for p in EXPORT_PROBES)} are requested one after another
(a new connection each); their p50 / p95 / slowest in ms, next to the same pages just before the export.
Load average (1 / 5 / 15 min) {began} before, {ended} after.

| format | rows | until downloadable | download | pages meanwhile: p50 / p95 / slowest (requests) | same pages before |
| --- | ---: | ---: | --- | --- | --- |
{rows}
"""


# -- statements: counts, rows examined, plans -----------------------------------------------------------------
@dataclass
class Statement:
    sql: str
    params: object
    seconds: float
    rows_examined: int = 0
    handler: dict = field(default_factory=dict)
    explain: list = field(default_factory=list)


def product_app(url: str):
    from cms import create_app

    overrides = {key.removeprefix("CMS_"): value for key, value in PRODUCT_ENV.items() if key != "CMS_CONFIG"}
    # The test client speaks plain HTTP: production's secure-only cookie would not come back.
    return create_app("production", DATABASE_URL=url, SESSION_COOKIE_SECURE=False, **overrides)


def signed_in_client(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": csrf_token_in(page)})
    page = client.get("/tf-validate").get_data(as_text=True)
    client.post("/tf-validate", data={"code": admin_code(), "csrf_token": csrf_token_in(page)})
    if client.get("/admin/comment/").status_code != 200:
        raise RuntimeError("the in-process client could not sign in")
    return client


def capture(app, client, path: str) -> list[Statement]:
    """The statements one request runs, with their parameters and times."""
    from cms.extensions import db

    statements: list[Statement] = []
    started: list[float] = []

    def before(conn, cursor, sql, params, context, executemany):
        started.append(time.perf_counter())

    def after(conn, cursor, sql, params, context, executemany):
        statements.append(Statement(sql, params, time.perf_counter() - started.pop()))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        status = client.get(path).status_code
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
    if status != 200:
        raise RuntimeError(f"{path} answered {status} in-process")
    return statements


def last_page(client, path: str, size: int, most: int) -> int:
    """Page `most` of `path` at `size` rows a page, or its last page holding rows when there are fewer."""
    page = client.get(with_args(path, page_size=size)).get_data(as_text=True)
    counted = re.search(r"(More than )?([\d,]+) rows? match", page)
    if counted is None or counted.group(1):
        return most
    return min(most, max(0, (int(counted.group(2).replace(",", "")) - 1) // size))


def with_args(path: str, **args) -> str:
    parts = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update({k: str(v) for k, v in args.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def handler_reads(cursor) -> dict[str, int]:
    cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")
    return {name: int(value) for name, value in cursor.fetchall()}


def examine(url: str, statements: list[Statement]) -> None:
    """Run each SELECT again on its own MariaDB session: Handler_read_* deltas (rows examined) and EXPLAIN."""
    import pymysql

    parsed = sa.engine.make_url(url)
    conn = pymysql.connect(
        host=parsed.host, port=parsed.port or 3306, user=parsed.username, password=parsed.password or "",
        database=parsed.database, charset="utf8mb4",
    )  # fmt: skip
    with conn.cursor() as cursor:
        first, second = handler_reads(cursor), handler_reads(cursor)
        overhead = {k: second[k] - first[k] for k in first}  # what SHOW STATUS itself reads
        for statement in statements:
            if not statement.sql.lstrip().upper().startswith("SELECT"):
                continue
            before = handler_reads(cursor)
            cursor.execute(statement.sql, statement.params)
            cursor.fetchall()
            after = handler_reads(cursor)
            statement.handler = {
                k: after[k] - before[k] - overhead[k] for k in after if after[k] - before[k] - overhead[k]
            }
            statement.rows_examined = sum(statement.handler.values())
            cursor.execute("EXPLAIN " + statement.sql, statement.params)
            names = [d[0] for d in cursor.description]
            statement.explain = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    conn.close()


def short_sql(sql: str, limit: int = 700) -> str:
    """The statement on one line, its outer column list and long parameter lists elided."""
    text = re.sub(r"\s+", " ", sql).strip()
    text = re.sub(
        r"\((%\([a-z0-9_]+\)s|%s)(, (%\([a-z0-9_]+\)s|%s))+\)",
        lambda m: f"({m.group(0).count(',') + 1} parameters)",
        text,
    )
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(" FROM ", position):
            if text.startswith("SELECT ") and position > 80:
                text = "SELECT … " + text[position + 1 :]
            break
    return text if len(text) <= limit else text[:limit] + " …"


def explain_table(rows: list[dict]) -> str:
    columns = ["id", "select_type", "table", "type", "key", "key_len", "ref", "rows", "Extra"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines)


# -- the run -----------------------------------------------------------------------------------------------
def mariadb_version(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT VERSION()")).scalar()
    engine.dispose()
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("CMS_BENCH_CONSOLE_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="a small data set, for trying the script")
    parser.add_argument("--parts", default="urls,export", help="urls, export, or both (comma-separated)")
    parser.add_argument("--export-formats", default="csv,xlsx", help="formats of the background export")
    parser.add_argument("--label", default="", help="a note for the results section, e.g. 'before the console work'")
    parser.add_argument(
        "--only", default="", help="measure only the URLs whose name contains this text (printed, not written)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    url = args.database_url
    if not url.startswith(("mysql", "mariadb")):
        raise SystemExit("the console benchmark runs on MariaDB: --database-url mysql+pymysql://…")
    counts = ensure_data(url, SMALL if args.small else SCALE)
    if "urls" in parts:
        list_urls(args, url, counts)
    if "export" in parts and args.export_formats:
        background_exports(args, url)


def list_urls(args, url: str, counts: dict[str, int]) -> None:
    """The list URLs: statements in-process, then both apps under gunicorn."""
    from benchmarks.stock_admin import create_app as create_stock_app
    from benchmarks.stock_admin import filter_arg

    app = product_app(url)
    with app.test_request_context():
        views = {v.endpoint: v for v in app.extensions["admin"][0]._views if hasattr(v, "model")}
        product_page_size = views["comment"].page_size
        product_filters = set(views["comment"]._filter_args or {})
    stock = create_stock_app(url)
    stock_page_size = next(v.page_size for v in stock.extensions["admin"][0]._views if hasattr(v, "model"))
    facts = find_facts(url, product_page_size, stock_page_size, product_filters)
    facts["stock_comment_status"] = filter_arg(stock, "comment", "Status", "equals")
    facts["stock_comment_post"] = filter_arg(stock, "comment", "post / Post / Id", "equals")
    facts["stock_post_status"] = filter_arg(stock, "post", "Status", "equals")
    progress(
        f"search word {facts['word']!r} in {facts['word_share']:.1%} of bodies; post {facts['post_id']} with "
        f"{facts['post_comments']} comments (the median); deep pages {facts['product_deep_page']} (product, "
        f"{product_page_size} a page) and {facts['stock_deep_page']} (stock, {stock_page_size} a page); title word "
        f"{facts['title_word']!r} in {facts['title_word_share']:.1%} of titles"
    )
    timings = [
        Timing(name, product.format(**facts), stock_url.format(**facts))
        for name, product, stock_url in URLS
        if args.only in name
    ]

    # Statements first, in-process (the servers are not running yet, so they do not compete).
    client = signed_in_client(app)
    per_url: dict[str, dict] = {}
    for timing in timings:
        progress(f"statements of {timing.name}: {timing.product_url}")
        capture(app, client, timing.product_url)  # warm: caches, last_seen
        # Page 5, or the last page holding rows when the list is shorter (an empty page loads no rows).
        deep = last_page(client, timing.product_url, 20, 5)
        # The fewer of two requests: the content version is read at most once a second per process
        # (PAGE_CACHE_VERSION_TTL), whatever the page, and falls into one request or another at random.
        variants = {
            label: min(
                len(capture(app, client, with_args(timing.product_url, page_size=size, page=page))) for _ in "ab"
            )
            for label, size, page in (("20/0", 20, 0), ("50/0", 50, 0), ("later", 20, deep))
        }
        statements = capture(app, client, timing.product_url)
        examine(url, statements)
        slowest = max(statements, key=lambda s: s.seconds)
        widest = max(statements, key=lambda s: s.rows_examined)
        per_url[timing.name] = {
            "counts": variants,
            "later_page": deep,
            "statements": statements,
            "slowest": slowest,
            "widest": widest,
        }
        progress(
            f"  {len(statements)} statements (page size 20/50, a later page: {variants}); "
            f"slowest {slowest.seconds * 1000:,.0f} ms, most rows examined {widest.rows_examined:,}"
        )

    env = {**PRODUCT_ENV, "CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    progress("starting the product and the stock Flask-Admin under gunicorn")
    product = serve("wsgi:app", PRODUCT_PORT, env, args.workers)
    stock_server = serve("benchmarks.stock_admin:create_app()", STOCK_PORT, env, args.workers)
    trivial = serve("benchmarks.trivial_app:app", TRIVIAL_PORT, {"PYTHONPATH": str(ROOT)}, args.workers)
    load_before = os.getloadavg()
    try:
        cookie = sign_in(PRODUCT_PORT)
        for timing in timings:
            progress(f"measuring {timing.name}: {args.warmup} warm-up + {args.rounds} rounds, alternating")
            measure(timing, cookie, args.warmup, args.rounds)
            p95p, p95s = percentile(timing.product, 95), percentile(timing.stock, 95)
            progress(f"  product p95 {p95p * 1000:,.0f} ms, stock p95 {p95s * 1000:,.0f} ms, ratio {p95p / p95s:.2f}")
        floors = measure_floors(args, cookie, URLS[FLOOR_BETWEEN][2].format(**facts))
    finally:
        stop(product)
        stop(stock_server)
        stop(trivial)
    load_after = os.getloadavg()
    loads, sizes = (load_before, load_after), (product_page_size, stock_page_size)
    body = report(args, url, counts, facts, timings, per_url, loads, sizes, floors)
    print(body, flush=True)
    if args.only:
        return  # a part of the table: not one for the results
    write_section("Staff console against stock Flask-Admin (MariaDB)", body)
    progress("written to benchmarks/results.md")


def background_exports(args, url: str) -> None:
    """Every comment exported from the console as a background job, one format after another."""
    env = {**PRODUCT_ENV, "CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    if args.small:  # the small set is below the size that goes to the background
        env["CMS_EXPORT_ASYNC_ROWS"] = "1000"
    progress("starting the product under gunicorn and one export worker (flask cms worker)")
    product = serve("wsgi:app", PRODUCT_PORT, env, args.workers)
    worker = subprocess.Popen(
        [PYTHON, "-m", "flask", "--app", "wsgi", "cms", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    load_before = os.getloadavg()
    runs = []
    try:
        cookie = sign_in(PRODUCT_PORT)
        for fmt in args.export_formats.split(","):
            progress(f"exporting every comment as {fmt} in the background")
            runs.append(export_in_background(fmt, cookie, idle_rounds=10))
            last = runs[-1]
            progress(
                f"  {last.rows:,} rows downloadable after {last.until_downloadable:,.1f} s; slowest page meanwhile "
                f"{max(last.meanwhile) * 1000:,.0f} ms (before: {max(last.idle) * 1000:,.0f} ms)"
            )
    finally:
        stop(worker)
        stop(product)
    body = export_report(runs, (load_before, os.getloadavg()), args.label)
    print(body, flush=True)
    write_section("Staff console: every comment exported as a background job (MariaDB)", body)
    progress("written to benchmarks/results.md")


def verdict(product: float, stock: float) -> str:
    if product > stock:
        return "slower than stock"
    if stock > 0.1 and product > stock / 10:
        return "above 1/10"
    return "met"


@dataclass
class Floors:
    """The product's console list with no rows and a trivial Flask route, each alternating with a stock URL as
    the URLs above are measured, and back to back."""

    between: str
    empty_list: Timing
    trivial: Timing
    empty_list_back_to_back: Timing
    trivial_back_to_back: Timing


def measure_floors(args, cookie: str, between: str) -> Floors:
    floors = Floors(
        between,
        Timing("the product's console list with no rows", FLOOR_URL, between),
        Timing("a trivial Flask route (benchmarks/trivial_app.py)", "/", between),
        Timing("the product's console list with no rows, back to back", FLOOR_URL, ""),
        Timing("a trivial Flask route, back to back", "/", ""),
    )
    for timing, port in (
        (floors.empty_list, PRODUCT_PORT),
        (floors.trivial, TRIVIAL_PORT),
        (floors.empty_list_back_to_back, PRODUCT_PORT),
        (floors.trivial_back_to_back, TRIVIAL_PORT),
    ):
        alternating = bool(timing.stock_url)  # a floor timed back to back has no stock URL
        progress(f"measuring the floor: {timing.name}" + (f", alternating with stock {between}" if alternating else ""))
        measure(timing, cookie if port == PRODUCT_PORT else "", args.warmup, args.rounds, alternating, port)
    return floors


def floor_report(floors: Floors, timings: list[Timing]) -> str:
    """The floors' times, and each URL whose 1/10 of stock lies below the product's: no list work can meet it
    there."""
    ms = lambda seconds: f"{seconds * 1000:,.1f}"  # noqa: E731
    rows = [
        f"| {t.name} | {'alternating' if t.stock_url else 'back to back'} | {ms(statistics.median(t.product))} | "
        f"{ms(percentile(t.product, 95))} |"
        for t in (floors.empty_list, floors.trivial, floors.empty_list_back_to_back, floors.trivial_back_to_back)
    ]
    p95 = percentile(floors.empty_list.product, 95)
    below = [
        f"{t.name} (1/10 of stock p95: {percentile(t.stock, 95) * 100:,.1f} ms)"
        for t in timings
        if percentile(t.stock, 95) > 0.1 and percentile(t.stock, 95) / 10 < p95
    ]
    verdict_ = (
        "Where 1/10 of stock lies below the product's alternating floor, no list work can reach the target in this "
        "run: " + "; ".join(below) + "."
        if below
        else "Every 1/10 of stock in this run lies above the product's alternating floor."
    )
    woken = [
        statistics.median(alternating.product) - statistics.median(back_to_back.product)
        for alternating, back_to_back in (
            (floors.trivial, floors.trivial_back_to_back),
            (floors.empty_list, floors.empty_list_back_to_back),
        )
    ]
    return f"""The floors (ms): what any request pays on this machine. "Alternating" is measured as the URLs above
are, each request followed by stock's `{floors.between}`, so a worker sleeps as long between its requests as the
product's do there; "back to back" is the same request with nothing between. Alternating costs the trivial route
{ms(woken[0])} ms more at p50 and the product's empty list {ms(woken[1])} ms more: what a worker pays after sleeping
grows with the work its request does (its code and data are no longer in the CPU's caches).

| floor | measured | p50 | p95 |
| --- | --- | ---: | ---: |
{chr(10).join(rows)}

{verdict_}"""


def report(args, url, counts, facts, timings, per_url, loads, sizes, floors: Floors) -> str:
    (load_before, load_after), (product_size, stock_size) = loads, sizes
    ms = lambda seconds: f"{seconds * 1000:,.0f}"  # noqa: E731
    rows = []
    for t in timings:
        p50p, p95p = statistics.median(t.product), percentile(t.product, 95)
        p50s, p95s = statistics.median(t.stock), percentile(t.stock, 95)
        rows.append(
            f"| {t.name} | `{t.product_url}` | {ms(p50p)} | {ms(p95p)} | {ms(p50s)} | {ms(p95s)} | "
            f"{p95p / p95s:.2f} | {verdict(p95p, p95s)} |"
        )
    statement_rows = []
    for name, found in per_url.items():
        counts_ = found["counts"]
        same = "same" if len(set(counts_.values())) == 1 else "**differ**"
        widest = found["widest"]
        over = ""
        if widest.rows_examined > ROWS_EXAMINED_LIMIT + ROWS_PAST_THE_CAP:
            over = f" **over {ROWS_EXAMINED_LIMIT:,}**"
        elif widest.rows_examined > ROWS_EXAMINED_LIMIT:
            over = " (the capped count)"
        statement_rows.append(
            f"| {name} | {len(found['statements'])} | "
            f"{counts_['20/0']} / {counts_['50/0']} / {counts_['later']} (page {found['later_page']}; {same}) | "
            f"{ms(sum(s.seconds for s in found['statements']))} | {ms(found['slowest'].seconds)} | "
            f"{widest.rows_examined:,}{over} |"
        )
    plans = []
    for name, found in per_url.items():
        shown = {id(found["slowest"]): found["slowest"], id(found["widest"]): found["widest"]}
        for statement in shown.values():
            reads = ", ".join(f"{k} {v:,}" for k, v in sorted(statement.handler.items())) or "none"
            plans.append(
                f"**{name}** — {ms(statement.seconds)} ms, {statement.rows_examined:,} rows examined ({reads})\n\n"
                f"```sql\n{short_sql(statement.sql)}\n```\n\n{explain_table(statement.explain)}\n"
            )
    label = f"**{args.label.rstrip('.')}.** " if args.label else ""
    began, ended = (" / ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    data = ", ".join(f"{counts[name]:,} {name}" for name in TABLES)
    post_note = (
        ""
        if PRODUCT_POST_ID_ARG in facts["product_post_filter"]
        else " — the product has no post-id filter yet, so its URL filters on the post's title, which "
        f"{facts['post_title']!r} shares with other posts"
    )
    target = "target (≤ 1/10 where stock > 100 ms, never slower)"
    return f"""
{label}MariaDB {mariadb_version(url)} (untuned: innodb_buffer_pool_size as installed), {machine()}.
Load average (1 / 5 / 15 min) {began} when the timing began, {ended} when it ended; other work shares the machine.

Data: {data} (`flask cms seed --users 50000 --posts 100000 --comments 1000000 --follows 500000`).
Both apps under gunicorn, {args.workers} sync workers each: the product with production settings and Redis, signed in
as the administrator, at its own page size ({product_size}); `benchmarks/stock_admin.py`, plain `ModelView`s over the
same models, no auth, page size {stock_size}. Per URL {args.warmup} warm-up rounds then {args.rounds} measured, the
two apps alternating, a new connection per request; times are whole responses, in ms.
Search word `{facts["word"]}` ({facts["word_share"]:.1%} of bodies); post {facts["post_id"]} has
{facts["post_comments"]} comments (the median){post_note}; deep pages skip {DEEP_OFFSET:,} rows. Title word
`{facts["title_word"]}` ({facts["title_word_share"]:.1%} of titles); email domain `{facts["domain"]}`
({facts["domain_share"]:.1%} of accounts).

| URL | product URL | product p50 | product p95 | stock p50 | stock p95 | p95 ratio | {target} |
| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |
{chr(10).join(rows)}

{floor_report(floors, timings)}

### Statements per request (product, in-process, signed in)

Statements of one request; the count at page size 20 / 50 / a later page (page 5, or the last page holding
rows of a shorter list; it should not change; each the fewer of two requests, as the content version is read at
most once a second per process, on whichever request comes); the time spent in
them and in the slowest one (ms); the most rows one statement examined (sum of the session's `Handler_read_*`
deltas when run again alone; target: about {ROWS_EXAMINED_LIMIT:,}, where a capped count reads the cap's entries and up
to {ROWS_PAST_THE_CAP} past it to tell "more than {ROWS_EXAMINED_LIMIT:,}" from {ROWS_EXAMINED_LIMIT:,}).

| URL | statements | at 20 / 50 / later page | in statements | slowest | most rows examined |
| --- | ---: | --- | ---: | ---: | ---: |
{chr(10).join(statement_rows)}

### The slowest statement and the one examining most rows, per URL (EXPLAIN)

{chr(10).join(plans)}
"""


if __name__ == "__main__":
    main()
