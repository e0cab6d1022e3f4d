"""Requests per second for the front page and a post page under gunicorn on loopback, next to a trivial
Flask route served the same way in the same run (issue: post page ≥ 50 % of the trivial route, warm)."""

import argparse
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import sqlalchemy as sa
from common import OUT, PYTHON, ROOT, progress, run, wait_for_port, write_section

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("CMS_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="a small data set, for trying the script")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    OUT.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{OUT / 'bench.db'}"
    scale = {"users": 200, "posts": 400, "comments": 5_000, "follows": 500} if args.small else LARGE
    ensure_data(url, scale)
    slug = busiest_post(url)

    env = {"CMS_DATABASE_URL": url, "CMS_CONFIG": "production", "CMS_SECRET_KEY": "benchmark-only-secret"}
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


if __name__ == "__main__":
    main()
