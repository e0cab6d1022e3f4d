"""Requests per second for the front page and a post page under gunicorn on loopback, next to a trivial
Flask route served the same way in the same run (issue: post page ≥ 50 % of the trivial route, warm).

First as the CMS runs with no server (SQLite, the page cache in process); then, with --redis-url (by default
Redis's database 13, flushed first), on the console's data set (cms_bench on MariaDB) with the page cache in Redis,
as deployed, measured twice: without the workers' local page copies (PAGE_CACHE_LOCAL_ITEMS=0: every hit is a
Redis round trip) and with the default settings."""

import argparse
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from common import OUT, PYTHON, ROOT, progress, run, wait_for_port, write_section

REDIS_URL = "redis://127.0.0.1:6379/13"  # flushed before the measurement
LARGE = {"users": 10_000, "posts": 20_000, "comments": 1_000_000, "follows": 50_000}
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


def ensure_data(url: str, scale: dict) -> None:
    env = {"CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    flask = [PYTHON, "-m", "flask", "--app", "wsgi", "cms"]
    run(flask + ["init"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        comments = conn.execute(sa.text("SELECT COUNT(*) FROM comment")).scalar()
    if comments >= scale["comments"]:
        progress(f"data set present ({comments:,} comments)")
        return
    progress(f"seeding the large data set: {scale}")
    args = [f"--{k}={v}" for k, v in scale.items()]
    run(flask + ["seed", *args], env=env, cwd=ROOT)


def backend_name(url: str) -> str:
    return "MariaDB" if url.startswith(("mysql", "mariadb")) else "SQLite"


def busiest_post(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT p.slug FROM post p JOIN comment c ON c.post_id = p.id "
                "WHERE p.status = 'published' AND c.status = 'approved' "
                "GROUP BY p.id, p.slug ORDER BY COUNT(*) DESC LIMIT 1"
            )
        ).scalar()


def serve(app: str, port: int, env: dict, workers: int) -> subprocess.Popen:
    command = [GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    wait_for_port(port)
    return process


def wrk(url: str, seconds: int, connections: int) -> float:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"{url} answered errors:\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("CMS_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="a small data set, for trying the script")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CMS_BENCH_REDIS_URL", REDIS_URL),
        help="then the page cache in Redis, as deployed, on the console's data set ('' to skip)",
    )
    parser.add_argument("--redis-only", action="store_true", help="only the measurement with Redis")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not args.redis_only:
        main_embedded(args)
    if args.redis_url:
        main_with_redis(args)


def main_embedded(args) -> None:
    """The CMS as it runs with no server: the page cache in process, SQLite unless --database-url says otherwise."""
    OUT.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{OUT / 'bench.db'}"
    scale = {"users": 200, "posts": 400, "comments": 5_000, "follows": 500} if args.small else LARGE
    ensure_data(url, scale)
    slug = busiest_post(url)

    env = {
        "CMS_DATABASE_URL": url,
        "CMS_CONFIG": "production",
        "CMS_SECRET_KEY": "benchmark-only-secret",
        "CMS_SECURITY_PASSWORD_SALT": "benchmark-only-salt",
        "CMS_SECURITY_TOTP_SECRETS": '{"1": "benchmark-only-totp-secret"}',
    }
    cms = serve("wsgi:app", 8101, env, args.workers)
    trivial = serve("benchmarks.trivial_app:app", 8102, {"PYTHONPATH": str(ROOT)}, args.workers)
    targets = {
        "trivial Flask route": "http://127.0.0.1:8102/",
        "front page /en/": "http://127.0.0.1:8101/en/",
        f"post page /en/posts/{slug}": f"http://127.0.0.1:8101/en/posts/{slug}",
        "API /api/v1/posts": "http://127.0.0.1:8101/api/v1/posts",
    }
    results = {}
    try:
        for name, target in targets.items():
            progress(f"warming {name}")
            wrk(target, 2, args.connections)
            progress(f"measuring {name} for {args.seconds}s")
            results[name] = wrk(target, args.seconds, args.connections)
            progress(f"{name}: {results[name]:,.0f} requests/s")
    finally:
        for process in (cms, trivial):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()

    baseline = results["trivial Flask route"]
    rows = "\n".join(f"| {name} | {rps:,.0f} | {rps / baseline:.0%} |" for name, rps in results.items())
    post_ratio = results[f"post page /en/posts/{slug}"] / baseline
    verdict = "met" if post_ratio >= 0.5 else "NOT met"
    with sa.create_engine(url).connect() as conn:
        sizes = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("user", "post", "comment")}  # noqa: S608
    body = f"""
Data: {sizes["user"]:,} users, {sizes["post"]:,} posts, {sizes["comment"]:,} comments ({url.split(":")[0]}).
gunicorn, {args.workers} sync workers each for the CMS (production settings) and the trivial app; wrk, 2 threads,
{args.connections} connections, {args.seconds} s per URL after a 2 s warm-up, anonymous readers (page cache warm).

| URL | requests/s | of trivial |
| --- | ---: | ---: |
{rows}

Target (post page ≥ 50 % of the trivial route): **{verdict}** ({post_ratio:.0%}).
"""
    write_section(f"Public pages under gunicorn ({backend_name(url)})", body)
    progress("written to benchmarks/results.md")


def paired(trivial_url: str, url: str, name: str, args) -> tuple[float, float]:
    """Requests/s of the trivial route and of `url`, measured in alternating 2 s slices adding up to --seconds
    each, so that other work on the machine weighs on both alike."""
    for target in (trivial_url, url):
        urllib.request.urlopen(target, timeout=120).read()  # noqa: S310 (our own http:// URL)
        wrk(target, 2, args.connections)
    slices = max(args.seconds // 2, 1)
    trivial = page = 0.0
    for _ in range(slices):
        trivial += wrk(trivial_url, 2, args.connections)
        page += wrk(url, 2, args.connections)
    progress(f"{name}: {page / slices:,.0f} requests/s, trivial {trivial / slices:,.0f}")
    return trivial / slices, page / slices


def main_with_redis(args) -> None:
    """The CMS with its page cache in Redis, without and with the workers' local copies, next to the trivial route."""
    import redis

    OUT.mkdir(parents=True, exist_ok=True)
    url = args.database_url or "mysql+pymysql://root:@127.0.0.1:3306/cms_bench?charset=utf8mb4"
    with sa.create_engine(url).connect() as conn:
        sizes = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("user", "post", "comment")}  # noqa: S608
    if not sizes["comment"]:
        raise SystemExit(f"{url} holds no comments: seed it first (benchmarks/README.md)")
    run([PYTHON, "-m", "flask", "--app", "wsgi", "cms", "init"], env={"CMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
        cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    slug = busiest_post(url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = {"CMS_DATABASE_URL": url, "CMS_CONFIG": "production", "CMS_SECRET_KEY": "benchmark-only-secret",
           "CMS_SECURITY_PASSWORD_SALT": "benchmark-only-salt",
           "CMS_SECURITY_TOTP_SECRETS": '{"1": "benchmark-only-totp-secret"}',
           "CMS_REDIS_URL": args.redis_url}  # fmt: skip
    pages = {
        "front page /en/": "/en/",
        f"post page /en/posts/{slug}": f"/en/posts/{slug}",
        "API /api/v1/posts": "/api/v1/posts",
    }
    loads = [f"start {load_average()}"]
    trivial_url = "http://127.0.0.1:8102/"
    trivial = serve("benchmarks.trivial_app:app", 8102, {"PYTHONPATH": str(ROOT)}, args.workers)
    # The machine is shared: each page is measured right after the trivial route, and compared with that run.
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        for label, extra in (("Redis only", {"CMS_PAGE_CACHE_LOCAL_ITEMS": "0"}), ("Redis + local copies", {})):
            cms = serve("wsgi:app", 8101, {**env, **extra}, args.workers)
            results[label] = {}
            try:
                for name, path in pages.items():
                    results[label][name] = paired(trivial_url, f"http://127.0.0.1:8101{path}", name, args)
            finally:
                os.killpg(cms.pid, signal.SIGTERM)
                cms.wait()
            loads.append(f"after {label}: {load_average()}")
    finally:
        os.killpg(trivial.pid, signal.SIGTERM)
        trivial.wait()

    rows = []
    for name in pages:
        (base_before, before), (base_after, after) = results["Redis only"][name], results["Redis + local copies"][name]
        rows.append(
            f"| {name} | {before:,.0f} ({base_before:,.0f}) | {before / base_before:.0%} "
            f"| {after:,.0f} ({base_after:,.0f}) | **{after / base_after:.0%}** |"
        )
    table = "\n".join(rows)
    worst = min(page / base for base, page in results["Redis + local copies"].values())
    verdict = "met" if worst >= 0.5 else "NOT met"
    body = f"""
Data: {sizes["user"]:,} users, {sizes["post"]:,} posts, {sizes["comment"]:,} comments (MariaDB, `{url.split("@")[-1]}`).
Page cache in Redis (`{args.redis_url}`, flushed first). gunicorn, {args.workers} sync workers each for the CMS
(production settings) and the trivial app; wrk, 2 threads, {args.connections} connections, {args.seconds} s per URL
in alternating 2 s slices with the trivial route (in brackets), after one request alone and a 2 s warm-up of each;
anonymous readers, page cache warm; each page is compared with the trivial route's slices between its own. The CMS
ran twice: with `CMS_PAGE_CACHE_LOCAL_ITEMS=0` (every hit a Redis round trip and an unpickle, as before) and with
the default settings (each worker keeps up to `PAGE_CACHE_LOCAL_ITEMS` pages for at most `PAGE_CACHE_LOCAL_TTL` s
in front of Redis).

| URL | Redis only: requests/s (trivial) | of trivial | with local copies: requests/s (trivial) | of trivial |
| --- | ---: | ---: | ---: | ---: |
{table}

Load average (1 / 5 / 15 min; 2 cores, shared with other work: the absolute figures move with it, the shares less):
{"; ".join(loads)}.

Target (public pages ≥ 50 % of the trivial route with Redis): **{verdict}** (lowest {worst:.0%}).
"""
    write_section("Public pages with Redis (MariaDB, benchmark data set)", body)
    progress("written to benchmarks/results.md")


if __name__ == "__main__":
    main()
