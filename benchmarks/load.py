"""50 anonymous readers and 5 staff at work at once for 60 seconds, against gunicorn as deployed
(docs/deploy/gunicorn.conf.py, production settings) with MariaDB and Redis on loopback and one `flask cms worker`:
the p50 / p95 / slowest of each kind of request into benchmarks/results.md, and zero errors, or it fails.

Each simulated person is a thread with its own HTTP session (the requests library), waiting a little between
requests as a person would; the threads spend nearly all their time waiting on the network, so one Python process
drives all 55. The staff sign in through the login form and the two-factor code step (the seeded demo accounts,
whose authenticator key is cms.seed.DEMO_TOTP_KEY) and then:

- the author writes a draft of their own and keeps editing it;
- the editor edits published posts (each save changes what readers see: their cached pages go);
- the moderator approves and hides the pending comments the list shows, checked in bulk, and once a round every
  comment matching a search ("select all matching");
- the administrator exports comments: the pending ones (csv and xlsx, in the request) and all approved ones as a
  background job, which the worker runs while the administrator watches its progress and then downloads it;
- the translator saves the Chinese text of "Latest posts" in the translation workspace, in turn with two wordings
  (each save rebuilds every worker's catalogs and changes what readers see).

An error is any request that fails, times out (60 s) or answers other than the page expected. Options: --seconds
(60), --readers (50), --database-url (default mysql+pymysql://root:@127.0.0.1:3306/cms_load, recreated and
seeded first unless --keep-data), --redis-url (default redis://127.0.0.1:6379/12; the run's keys carry a prefix
of their own and are removed afterwards)."""

import argparse
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from common import PYTHON, ROOT, progress, run, wait_for_port, write_section

from cms.seed import DEMO_PASSWORD, DEMO_TOTP_KEY
from tests.support.catalogs import entry_form
from tests.support.web import csrf_token, form_values, totp_code

DEFAULT_URL = "mysql+pymysql://root:@127.0.0.1:3306/cms_load?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
SCALE = {"users": 1_000, "posts": 1_000, "comments": 20_000, "follows": 1_000}
PORT = 8131
TIMEOUT = 60  # seconds a request may take before it counts as an error (gunicorn's own timeout)
READER_PAUSE = (0.5, 2.0)  # seconds between a reader's requests
STAFF_PAUSE = (1.0, 3.0)
SECTION = "Load: 50 readers and 5 staff for 60 s (gunicorn, MariaDB, Redis)"


@dataclass
class Tally:
    """Every request's time by kind, and the errors, shared by the threads."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if error:
                self.errors[kind].append(error)


@dataclass
class Run:
    """What every person shares: the server, the tally, and the start line. Staff sign in first; once everyone is
    at the line (`gate`), the clock starts for all at once and `until` is set."""

    base: str
    tally: Tally
    seconds: float
    gate: threading.Barrier = field(init=False)
    until: float = 0.0
    started: float = 0.0

    def open(self, people: int) -> None:
        self.gate = threading.Barrier(people, action=self._start)

    def _start(self) -> None:
        self.started = time.monotonic()
        self.until = self.started + self.seconds


class Person:
    """One simulated reader or staff member: an HTTP session of its own on the shared run."""

    def __init__(self, run: Run, seed: int) -> None:
        self.run, self.base, self.tally = run, run.base, run.tally
        self.http = requests.Session()
        self.random = random.Random(seed)

    def at_the_line(self, ready: bool = True) -> bool:
        """Wait for everyone else to be ready; whether this person goes on (False: its sign-in failed)."""
        self.run.gate.wait()
        return ready

    def request(self, kind: str, method: str, path: str, expect: tuple[int, ...] = (200,), check=None, **kwargs):
        """One request, timed and recorded under `kind`; the response, or None when it failed."""
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)
            error = None if response.status_code in expect else f"{method} {path}: {response.status_code}"
            if error is None and check is not None and not check(response):
                error = f"{method} {path}: not the page expected"
        except requests.RequestException as exc:
            response, error = None, f"{method} {path}: {type(exc).__name__}: {exc}"
        self.tally.record(kind, time.perf_counter() - started, error)
        return None if error else response

    def pause(self, span: tuple[float, float]) -> bool:
        """Wait as a person would; False once the run is over."""
        time.sleep(self.random.uniform(*span))
        return time.monotonic() < self.run.until

    def sign_in(self, email: str) -> bool:
        page = self.request("sign-in: form", "GET", "/login")
        if page is None:
            return False
        data = {"email": email, "password": DEMO_PASSWORD, "csrf_token": csrf_token(page.text)}
        answer = self.request("sign-in: password", "POST", "/login", (302,), data=data)
        if answer is None:
            return False
        if "/tf-validate" in answer.headers.get("Location", ""):
            page = self.request("sign-in: code form", "GET", "/tf-validate")
            if page is None:
                return False
            data = {"code": totp_code(DEMO_TOTP_KEY), "csrf_token": csrf_token(page.text)}
            if self.request("sign-in: code", "POST", "/tf-validate", (302,), data=data) is None:
                return False
        return self.request("console: dashboard", "GET", "/admin/") is not None


# -- readers -------------------------------------------------------------------------------------------
def reader(person: Person, slugs: list[str], authors: list[str]) -> None:
    person.at_the_line()
    while True:
        roll = person.random.random()
        locale = person.random.choice(["en", "zh", "es"])
        if roll < 0.30:
            person.request("reader: front page", "GET", f"/{locale}/")
        elif roll < 0.70:
            person.request("reader: post page", "GET", f"/{locale}/posts/{person.random.choice(slugs)}")
        elif roll < 0.80:
            person.request("reader: list page 2-5", "GET", f"/{locale}/?page={person.random.randint(2, 5)}")
        elif roll < 0.88:
            person.request("reader: author page", "GET", f"/{locale}/authors/{person.random.choice(authors)}")
        elif roll < 0.96:
            person.request("reader: API list", "GET", f"/api/v1/posts?page={person.random.randint(1, 5)}")
        else:
            person.request("reader: feed", "GET", f"/{locale}/feed.atom")
        if not person.pause(READER_PAUSE):
            return


# -- staff ---------------------------------------------------------------------------------------------
def edit_post(person: Person, post_id: int, kind: str) -> None:
    path = f"/admin/post/edit/?id={post_id}"
    page = person.request(f"{kind}: open post", "GET", path)
    if page is None:
        return
    values = form_values(page.text)
    values["body"] = f"Edited under load, {uuid.uuid4().hex[:8]}.\n\n" + values.get("body", "")[:2000]
    saved = person.request(f"{kind}: save post", "POST", path, (302,), data=values)
    if saved is not None and "/edit/" in saved.headers.get("Location", ""):
        person.tally.record(f"{kind}: save post", 0.0, f"POST {path}: sent back to the form")


def author(person: Person) -> None:
    if not person.at_the_line(person.sign_in("author@example.com")):
        return
    page = person.request("author: new post form", "GET", "/admin/post/new/")
    if page is None:
        return
    values = {**form_values(page.text), "title": f"Draft under load {uuid.uuid4().hex[:8]}", "body": "A first line."}
    created = person.request("author: create draft", "POST", "/admin/post/new/", (302,), data=values)
    found = re.search(r"id=(\d+)", created.headers.get("Location", "")) if created is not None else None
    if found is None:
        listing = person.request("author: own posts", "GET", "/admin/post/")
        found = re.search(r"/admin/post/edit/\?id=(\d+)", listing.text) if listing is not None else None
    if found is None:
        person.tally.record("author: create draft", 0.0, "the new draft is not in the author's list")
        return
    while person.pause(STAFF_PAUSE):
        edit_post(person, int(found.group(1)), "author")


def editor(person: Person, post_ids: list[int]) -> None:
    if not person.at_the_line(person.sign_in("editor@example.com")):
        return
    while person.pause(STAFF_PAUSE):
        person.request("editor: post list", "GET", "/admin/post/?flt0_status_equals=published")
        edit_post(person, person.random.choice(post_ids), "editor")


def moderator(person: Person, words: list[str]) -> None:
    if not person.at_the_line(person.sign_in("moderator@example.com")):
        return
    while person.pause(STAFF_PAUSE):
        page = person.request("moderator: pending list", "GET", "/admin/comment/?flt0_status_equals=pending")
        if page is None:
            continue
        checkboxes = [tag for tag in re.findall(r"<input[^>]*>", page.text) if 'name="rowid"' in tag]
        ids = [found.group(1) for tag in checkboxes if (found := re.search(r'value="(\d+)"', tag))]
        token = csrf_token(page.text)
        for action, chosen in (("approve", ids[:10]), ("hide_spam", ids[10:15])):
            if chosen:
                data = {"action": action, "rowid": chosen, "csrf_token": token}
                person.request("moderator: bulk action (checked)", "POST", "/admin/comment/action/", (302,), data=data)
        word = person.random.choice(words)
        data = {"action": "approve", "rowid": "0", "select_all": "1", "csrf_token": token}
        path = f"/admin/comment/action/?flt0_status_equals=pending&search={word}"
        person.request("moderator: bulk action (all matching)", "POST", path, (302,), data=data)


def administrator(person: Person) -> None:
    if not person.at_the_line(person.sign_in("administrator@example.com")):
        return
    job_page = None
    while person.pause(STAFF_PAUSE):
        fmt = person.random.choice(["csv", "xlsx"])
        person.request(
            f"administrator: export pending ({fmt})", "GET", f"/admin/comment/export/{fmt}/?flt0_status_equals=pending",
            check=lambda r: "attachment" in r.headers.get("Content-Disposition", ""),
        )  # fmt: skip
        if job_page is None:
            started = person.request(
                "administrator: start background export",
                "GET",
                "/admin/comment/export/csv/?flt0_status_equals=approved",
                (302,),
                check=lambda r: "/admin/comment/exports/" in r.headers.get("Location", ""),
            )
            job_page = urlsplit(started.headers["Location"]).path if started is not None else None
            continue
        status = person.request("administrator: export progress", "GET", job_page.rstrip("/") + ".json")
        state = status.json() if status is not None else {}
        if state.get("status") == "failed":
            person.tally.record("administrator: export progress", 0.0, f"background export failed: {state}")
            job_page = None
        elif state.get("download_url"):
            person.request(
                "administrator: download background export", "GET", urlsplit(state["download_url"]).path,
                check=lambda r: len(r.content) > 1000,
            )  # fmt: skip
            job_page = None


def translator(person: Person) -> None:
    if not person.at_the_line(person.sign_in("translator@example.com")):
        return
    wordings = ["最新文章", "最新的文章"]
    turn = 0
    while person.pause(STAFF_PAUSE):
        path = "/admin/translations/zh/?q=Latest+posts"
        page = person.request("translator: search entries", "GET", path)
        if page is None:
            continue
        turn += 1
        data = {**entry_form(page.text, "Latest posts"), "form_0": wordings[turn % 2]}
        save = "/admin/translations/zh/save?q=Latest+posts"
        person.request("translator: save translation", "POST", save, (302,), data=data)


# -- the run -------------------------------------------------------------------------------------------
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


def facts(url: str) -> tuple[list[str], list[str], list[int], list[str]]:
    """Published slugs, author usernames, the editor's posts to edit, and words of pending comments."""
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
    return slugs, authors, post_ids, words or ["nothing"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def report(tally: Tally, args, wall: float, loads: tuple[str, str], workers: str) -> str:
    kinds = sorted(tally.times, key=lambda k: (not k.startswith("reader"), k))
    total = sum(len(v) for v in tally.times.values())
    errors = sum(len(v) for v in tally.errors.values())
    lines = [
        f"{args.readers} anonymous readers and 5 staff (author, editor, moderator, administrator, translator), each a"
        f" thread of one Python process with its own HTTP session, for {wall:.0f} s against `gunicorn -c"
        f" docs/deploy/gunicorn.conf.py wsgi:app` ({workers} sync workers, production settings) on 127.0.0.1, with"
        f" MariaDB (`{sa.engine.make_url(args.database_url).database}`: {SCALE['users']:,} users, {SCALE['posts']:,}"
        f" posts, {SCALE['comments']:,} comments), Redis (page cache, sessions, export queue) and one `flask cms"
        " worker`. Readers wait 0.5–2 s between requests, staff 1–3 s; the staff sign in (password, then the"
        " two-factor code) before the clock starts, and those requests are in the table too. Every staff save changes"
        " what readers see, so their cached pages go and are rendered again."
        " `benchmarks/load.py` says what each person does.",
        "",
        f"**{total:,} requests, {errors} errors** ({total / wall:,.0f} requests/s). Load average (1 / 5 / 15 min;"
        f" 2 cores, shared with other work): {loads[0]} before, {loads[1]} after.",
        "",
        "| request | count | errors | p50 ms | p95 ms | slowest ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in kinds:
        values = tally.times[kind]
        lines.append(
            f"| {kind} | {len(values):,} | {len(tally.errors.get(kind, []))} | {percentile(values, 50) * 1000:,.0f}"
            f" | {percentile(values, 95) * 1000:,.0f} | {max(values) * 1000:,.0f} |"
        )
    if errors:
        lines += ["", "First errors:", ""]
        lines += [f"- {e}" for kind in kinds for e in tally.errors.get(kind, [])[:3]]
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
    slugs, authors, post_ids, words = facts(args.database_url)
    config = str(ROOT / "docs" / "deploy" / "gunicorn.conf.py")
    web = start([PYTHON, "-m", "gunicorn", "-c", config, "wsgi:app"], env, out / "gunicorn.log")
    worker = start([PYTHON, "-m", "flask", "--app", "wsgi", "cms", "worker"], env, out / "worker.log")
    try:
        wait_for_port(PORT, timeout=120)
        for path in ("/en/", "/zh/", "/es/", "/api/v1/posts"):  # one render each before the clock starts
            requests.get(f"http://127.0.0.1:{PORT}{path}", timeout=TIMEOUT)
        workers = str(len(Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split()))
        tally = Tally()
        shared = Run(f"http://127.0.0.1:{PORT}", tally, args.seconds)
        people = [
            threading.Thread(target=reader, args=(Person(shared, n), slugs, authors)) for n in range(args.readers)
        ]
        people += [
            threading.Thread(target=author, args=(Person(shared, 1001),)),
            threading.Thread(target=editor, args=(Person(shared, 1002), post_ids)),
            threading.Thread(target=moderator, args=(Person(shared, 1003), words)),
            threading.Thread(target=administrator, args=(Person(shared, 1004),)),
            threading.Thread(target=translator, args=(Person(shared, 1005),)),
        ]
        shared.open(len(people) + 1)
        progress("the staff sign in")
        for thread in people:
            thread.start()
        shared.gate.wait()
        loads_before = load_average()
        progress(f"{args.readers} readers and 5 staff for {args.seconds} s (load average {loads_before})")
        for thread in people:
            thread.join()
        wall = time.monotonic() - shared.started
        loads = (loads_before, load_average())
    finally:
        stop(worker)
        stop(web)
        _forget_keys(args.redis_url, run_id)
    body = report(tally, args, wall, loads, workers)
    print(body, flush=True)
    errors = sum(len(v) for v in tally.errors.values())
    staff_kinds = {k.split(":")[0] for k in tally.times if not k.startswith(("reader", "sign-in", "console"))}
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
