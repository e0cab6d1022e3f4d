"""50 anonymous readers and 5 staff at work at once for 60 seconds, against gunicorn as deployed
(docs/deploy/gunicorn.conf.py, production settings) with MariaDB and Redis on loopback and one `flask cms worker`:
the p50 / p95 / slowest of each kind of request into benchmarks/results.md, and zero errors, or it fails.

The people are Locust users (benchmarks/load_people.py), run by Locust as a library, headless, in a process of its
own: each has its own HTTP session and waits a little between requests as a person would. The staff sign in
through the login form and the two-factor code step (the seeded demo accounts, whose authenticator key is
cms.seed.DEMO_TOTP_KEY) before the clock starts, and then:

- the author writes a draft of their own and keeps editing it;
- the editor edits published posts (each save changes what readers see: their cached pages go);
- the moderator approves and hides the pending comments the list shows, checked in bulk, and once a round every
  comment matching a search ("select all matching");
- the administrator exports comments: the pending ones (csv and xlsx, in the request) and all approved ones as a
  background job, which the worker runs while the administrator watches its progress and then downloads it;
- the translator saves the Chinese text of "Latest posts" in the translation workspace, in turn with two wordings
  (each save rebuilds every worker's catalogs and changes what readers see).

An error is any request that fails, times out (60 s) or answers other than the page expected, or an exception in
a person's code. Options: --seconds (60), --readers (50), --database-url (default
mysql+pymysql://root:@127.0.0.1:3306/cms_load, recreated and seeded first unless --keep-data), --redis-url
(default redis://127.0.0.1:6379/12; the run's keys carry a prefix of their own and are removed afterwards)."""

import argparse
import json
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa
from common import PYTHON, ROOT, progress, run, wait_for_port, write_section

DEFAULT_URL = "mysql+pymysql://root:@127.0.0.1:3306/cms_load?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
SCALE = {"users": 1_000, "posts": 1_000, "comments": 20_000, "follows": 1_000}
PORT = 8131
SECTION = "Load: 50 readers and 5 staff for 60 s (gunicorn, MariaDB, Redis)"
PEOPLE = Path(__file__).resolve().with_name("load_people.py")


def prepare_database(url: str, env: dict, keep: bool) -> None:
    database = sa.engine.make_url(url)
    server = sa.create_engine(database._replace(database=None))  # URL.set ignores None: it would keep the name
    with server.begin() as conn:
        if not keep:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database.database}`"))
        conn.execute(
            sa.text(
                f"CREATE DATABASE IF NOT EXISTS `{database.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )
    server.dispose()
    flask = [PYTHON, "-m", "flask", "--app", "wsgi", "cms"]
    run([*flask, "init"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    if not keep:
        progress(f"seeding {SCALE}")
        run([*flask, "seed", *[f"--{k}={v}" for k, v in SCALE.items()]], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def facts(url: str) -> dict[str, list]:
    """What the people pick from: published slugs, author usernames, the editor's posts to edit, and words of
    pending comments (the moderator's searches)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        slugs = list(conn.execute(sa.text("SELECT slug FROM post WHERE status = 'published' LIMIT 300")).scalars())
        authors = list(
            conn.execute(sa.text("SELECT DISTINCT u.username FROM user u JOIN post p ON p.author_id = u.id LIMIT 100"))
            .scalars()
        )  # fmt: skip
        post_ids = list(conn.execute(sa.text("SELECT id FROM post WHERE status = 'published' LIMIT 40")).scalars())
        bodies = conn.execute(sa.text("SELECT body FROM comment WHERE status = 'pending' LIMIT 200")).scalars()
        words = sorted({w.lower() for body in bodies for w in re.findall(r"[A-Za-z]{6,}", body)})[:40]
    engine.dispose()
    return {"slugs": slugs, "authors": authors, "post_ids": post_ids, "words": words or ["nothing"]}


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def load_average(values: list[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def report(measured: dict, args, workers: str) -> str:
    """The results.md section from what load_people.py measured."""
    rows = sorted(measured["requests"], key=lambda r: (not r["name"].startswith("reader"), r["name"]))
    total = sum(r["count"] for r in rows)
    errors = sum(r["failures"] for r in rows) + sum(e["count"] for e in measured["exceptions"])
    wall = measured["seconds"]
    loads = measured["load_average"]
    lines = [
        f"{args.readers} anonymous readers and 5 staff (author, editor, moderator, administrator, translator), Locust"
        " users (`HttpUser`, each with its own HTTP session) run by Locust as a library in one process, for"
        f" {wall:.0f} s against `gunicorn -c docs/deploy/gunicorn.conf.py wsgi:app` ({workers} sync workers,"
        f" production settings) on 127.0.0.1, with MariaDB (`{sa.engine.make_url(args.database_url).database}`:"
        f" {SCALE['users']:,} users, {SCALE['posts']:,} posts, {SCALE['comments']:,} comments), Redis (page cache,"
        " sessions, export queue) and one `flask cms worker`. Readers wait 0.5–2 s between requests, staff 1–3 s;"
        " the staff sign in before the clock starts (password, then the two-factor code for the four whose role"
        " needs one: not the author), and those requests are in the table too. Every staff save changes what"
        " readers see, so their cached pages go and are rendered again. `benchmarks/load_people.py` says what each"
        " person does. p50 and p95 are Locust's (`get_response_time_percentile`), over response times it keeps to"
        " two significant digits from 100 ms up, so a p95 can read a little above the slowest, which is exact.",
        "",
        f"**{total:,} requests, {errors} errors** ({total / wall:,.0f} requests/s). Load average (1 / 5 / 15 min;"
        f" 2 cores, shared with other work): {load_average(loads['before'])} when the clock started,"
        f" {load_average(loads['after'])} at the end.",
        "",
        "| request | count | errors | p50 ms | p95 ms | slowest ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['name']} | {r['count']:,} | {r['failures']} | {r['p50']:,.0f} | {r['p95']:,.0f} | {r['max']:,.0f} |"
        for r in rows
    ]
    if errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {e['occurrences']} × {e['name']}: {e['error']}" for e in measured["errors"][:20]]
        lines += [f"- {e['count']} × exception: {e['message']}" for e in measured["exceptions"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("CMS_BENCH_LOAD_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=os.environ.get("CMS_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--keep-data", action="store_true", help="reuse the database as it is (no re-seeding)")
    parser.add_argument("--no-results", action="store_true", help="print the section, leave results.md alone")
    args = parser.parse_args()

    out = ROOT / "benchmarks" / "out" / "load"
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    env = {
        "PYTHONPATH": str(ROOT),
        "CMS_CONFIG": "production",
        "CMS_SECRET_KEY": "benchmark-only-secret",
        "CMS_SECURITY_PASSWORD_SALT": "benchmark-only-salt",
        "CMS_SECURITY_TOTP_SECRETS": '{"1": "benchmark-only-totp-secret"}',
        "CMS_DATABASE_URL": args.database_url,
        "CMS_REDIS_URL": args.redis_url,
        "CMS_CACHE_KEY_PREFIX": f"load-{run_id}-",
        "CMS_SESSION_KEY_PREFIX": f"load-{run_id}:session:",
        "CMS_RATELIMIT_KEY_PREFIX": f"load-{run_id}",
        "CMS_EXPORT_QUEUE": f"load-{run_id}-exports",
        "CMS_EXPORT_ASYNC_ROWS": "5000",  # all approved comments (about 17,000) go to the worker
        "CMS_UPLOADS_DIR": str(out / "uploads"),
        "CMS_EXPORTS_DIR": str(out / "exports"),
        "CMS_IMPORTS_DIR": str(out / "imports"),
        "CMS_CATALOG_BUILD_DIR": str(out / "catalogs"),
        "CMS_BIND": f"127.0.0.1:{PORT}",
        # http on loopback: the session cookie is sent without https here (production marks it Secure).
        "CMS_SESSION_COOKIE_SECURE": "false",
    }
    prepare_database(args.database_url, env, args.keep_data)
    (out / "facts.json").write_text(json.dumps(facts(args.database_url)))
    stats = out / "stats.json"
    stats.unlink(missing_ok=True)
    config = str(ROOT / "docs" / "deploy" / "gunicorn.conf.py")
    web = start([PYTHON, "-m", "gunicorn", "-c", config, "wsgi:app"], env, out / "gunicorn.log")
    worker = start([PYTHON, "-m", "flask", "--app", "wsgi", "cms", "worker"], env, out / "worker.log")
    try:
        wait_for_port(PORT, timeout=120)
        for path in ("/en/", "/zh/", "/es/", "/api/v1/posts"):  # one render each before the clock starts
            requests.get(f"http://127.0.0.1:{PORT}{path}", timeout=60)
        workers = str(len(Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split()))
        people = [PYTHON, str(PEOPLE), "--host", f"http://127.0.0.1:{PORT}", "--facts", str(out / "facts.json")]
        people += ["--stats", str(stats), "--seconds", str(args.seconds), "--readers", str(args.readers)]
        run(people, env={"PYTHONPATH": str(ROOT)}, cwd=ROOT)
    finally:
        stop(worker)
        stop(web)
        _forget_keys(args.redis_url, run_id)
    measured = json.loads(stats.read_text())
    body = report(measured, args, workers)
    print(body, flush=True)
    errors = sum(r["failures"] for r in measured["requests"]) + sum(e["count"] for e in measured["exceptions"])
    names = {r["name"].split(":")[0] for r in measured["requests"]}
    staff_kinds = names - {"reader", "sign-in", "console"}
    if args.seconds >= 60 and args.readers >= 50 and not args.no_results:
        write_section(SECTION, body)
    if errors:
        raise SystemExit(f"{errors} errors under load (see above)")
    if staff_kinds != {"author", "editor", "moderator", "administrator", "translator"}:
        raise SystemExit(f"not every member of staff got to work: {sorted(staff_kinds)}")
    progress("no errors")


def _forget_keys(redis_url: str, run_id: str) -> None:
    """The run's cached pages, sessions, limits and queue (finished RQ jobs expire by themselves within a day)."""
    import redis
    from rq import Queue

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    Queue(f"load-{run_id}-exports", connection=client).delete(delete_jobs=True)
    keys = list(client.scan_iter(f"*load-{run_id}*", count=1000))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
