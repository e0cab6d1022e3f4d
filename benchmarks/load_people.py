"""The people of benchmarks/load.py as Locust users, run by Locust used as a library (headless, one process):
`python benchmarks/load_people.py --host URL --facts FACTS.json --stats STATS.json`. load.py starts it once the
server is up and reads back what it measured; it runs in a process of its own because Locust monkey-patches the
standard library for gevent on import, which the benchmark's set-up (subprocesses, SQLAlchemy) is better without.

Every person is a Locust `HttpUser` (a `requests` session of its own) waiting between requests as a person would
(`wait_time`). The staff sign in through the login form and the two-factor step in `on_start`; everyone then waits
at the start line, and the clock starts when the last person is there. After `--seconds` the runner stops them
gracefully: a person in the middle of something finishes it (each request may take up to 60 s). Each request is
checked with `catch_response`: any other status than the one expected, a timeout, a connection error or a page
that is not the one expected is a failure in Locust's statistics."""

# First, before anything uses the standard library: importing Locust monkey-patches it for gevent.
import locust  # noqa: F401

# isort: split
import argparse
import json
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from common import progress
from gevent.event import Event
from locust import HttpUser, between, task
from locust.env import Environment
from locust.exception import CatchResponseError, StopUser
from locust.stats import StatsError
from requests import Response

from cms.seed import DEMO_PASSWORD, DEMO_TOTP_KEY
from tests.support.catalogs import entry_form
from tests.support.web import csrf_token, form_values, totp_code

TIMEOUT = 60  # seconds a request may take before it counts as an error (gunicorn's own timeout)
READER_PAUSE = (0.5, 2.0)  # seconds between a reader's requests
STAFF_PAUSE = (1.0, 3.0)
EDIT_LINK = re.compile(r"/admin/post/edit/\?id=(\d+)")


class StartLine:
    """Everyone waits here (the staff once signed in); the clock starts when the last person arrives."""

    def __init__(self, people: int) -> None:
        self.people, self.arrived = people, 0
        self.open = Event()
        self.started = 0.0

    def wait(self) -> None:
        self.arrived += 1  # greenlets switch only on I/O: no lock needed
        if self.arrived == self.people:
            self.started = time.monotonic()
            self.open.set()
        self.open.wait()


@dataclass
class Plan:
    """What the people share: the data set's facts (from load.py) and the start line."""

    slugs: list[str]
    authors: list[str]
    post_ids: list[int]
    words: list[str]
    line: StartLine = field(repr=False)


class Person(HttpUser):
    """One simulated person: a Locust user with an HTTP session (cookies) of its own."""

    abstract = True
    plan: Plan  # set by main() before the run

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        expect: tuple[int, ...] = (200,),
        check: Callable[[Response], str | None] | None = None,
        **kwargs,
    ) -> Response | None:
        """One request, counted in Locust's statistics under `kind`, and a failure there unless it answers a status
        in `expect` and `check` (what is wrong with the answer, or None) finds nothing wrong. The response, or None
        when it failed."""
        with self.client.request(
            method, path, name=kind, catch_response=True, allow_redirects=False, timeout=TIMEOUT, **kwargs
        ) as response:
            if response.error is not None:  # no answer: refused, reset, timed out
                problem = f"{type(response.error).__name__}: {response.error}"
            elif response.status_code not in expect:
                problem = f"answered {response.status_code}"
            else:
                try:
                    problem = check(response) if check else None
                except ValueError as exc:  # e.g. JSON expected and not sent
                    problem = f"{type(exc).__name__}: {exc}"
            if problem:
                response.failure(f"{method} {path}: {problem}")
                return None
            response.success()
            return response


class Reader(Person):
    """An anonymous reader: front pages, posts, later list pages, author pages, the API and the feed, in the three
    languages."""

    wait_time = between(*READER_PAUSE)

    def on_start(self) -> None:
        self.plan.line.wait()

    @task(30)
    def front_page(self) -> None:
        self.request("reader: front page", "GET", f"/{locale()}/")

    @task(40)
    def post_page(self) -> None:
        self.request("reader: post page", "GET", f"/{locale()}/posts/{random.choice(self.plan.slugs)}")

    @task(10)
    def list_page(self) -> None:
        self.request("reader: list page 2-5", "GET", f"/{locale()}/?page={random.randint(2, 5)}")

    @task(8)
    def author_page(self) -> None:
        self.request("reader: author page", "GET", f"/{locale()}/authors/{random.choice(self.plan.authors)}")

    @task(8)
    def api_list(self) -> None:
        self.request("reader: API list", "GET", f"/api/v1/posts?page={random.randint(1, 5)}")

    @task(4)
    def feed(self) -> None:
        self.request("reader: feed", "GET", f"/{locale()}/feed.atom")


def locale() -> str:
    return random.choice(["en", "zh", "es"])


class Staff(Person):
    """A member of staff: signs in (password, then the two-factor code) before the clock starts."""

    abstract = True
    fixed_count = 1
    wait_time = between(*STAFF_PAUSE)
    email: str

    def on_start(self) -> None:
        signed_in = False
        try:
            signed_in = self.sign_in()
        finally:
            self.plan.line.wait()
        if not signed_in:
            raise StopUser()

    def sign_in(self) -> bool:
        page = self.request("sign-in: form", "GET", "/login")
        if page is None:
            return False
        data = {"email": self.email, "password": DEMO_PASSWORD, "csrf_token": csrf_token(page.text)}
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

    def edit_post(self, post_id: int, kind: str) -> None:
        path = f"/admin/post/edit/?id={post_id}"
        page = self.request(f"{kind}: open post", "GET", path)
        if page is None:
            return
        values = form_values(page.text)
        values["body"] = f"Edited under load, {uuid.uuid4().hex[:8]}.\n\n" + values.get("body", "")[:2000]
        self.request(f"{kind}: save post", "POST", path, (302,), data=values, check=saved)


def saved(response: Response) -> str | None:
    return "sent back to the form" if "/edit/" in response.headers.get("Location", "") else None


class Author(Staff):
    """Writes a draft of their own, then keeps editing it."""

    email = "author@example.com"
    draft: int | None = None

    @task
    def write(self) -> None:
        if self.draft is None:
            self.draft = self.create_draft()
        else:
            self.edit_post(self.draft, "author")

    def create_draft(self) -> int | None:
        page = self.request("author: new post form", "GET", "/admin/post/new/")
        if page is None:
            return None
        title = f"Draft under load {uuid.uuid4().hex[:8]}"
        values = {**form_values(page.text), "title": title, "body": "A first line."}
        created = self.request("author: create draft", "POST", "/admin/post/new/", (302,), data=values)
        found = re.search(r"id=(\d+)", created.headers.get("Location", "")) if created is not None else None
        if found is None:  # sent to the list: the newest of the author's own posts is the draft
            listing = self.request(
                "author: own posts", "GET", "/admin/post/",
                check=lambda r: None if EDIT_LINK.search(r.text) else "the new draft is not in the author's list",
            )  # fmt: skip
            found = EDIT_LINK.search(listing.text) if listing is not None else None
        return int(found.group(1)) if found else None


class Editor(Staff):
    """Edits published posts: each save changes what readers see, so their cached pages go."""

    email = "editor@example.com"

    @task
    def edit(self) -> None:
        self.request("editor: post list", "GET", "/admin/post/?flt0_status_equals=published")
        self.edit_post(random.choice(self.plan.post_ids), "editor")


class Moderator(Staff):
    """Approves and hides the pending comments the list shows, checked in bulk, then approves every pending comment
    matching a search ("select all matching")."""

    email = "moderator@example.com"

    @task
    def moderate(self) -> None:
        page = self.request("moderator: pending list", "GET", "/admin/comment/?flt0_status_equals=pending")
        if page is None:
            return
        checkboxes = [tag for tag in re.findall(r"<input[^>]*>", page.text) if 'name="rowid"' in tag]
        ids = [found.group(1) for tag in checkboxes if (found := re.search(r'value="(\d+)"', tag))]
        token = csrf_token(page.text)
        for action, chosen in (("approve", ids[:10]), ("hide_spam", ids[10:15])):
            if chosen:
                data = {"action": action, "rowid": chosen, "csrf_token": token}
                self.request("moderator: bulk action (checked)", "POST", "/admin/comment/action/", (302,), data=data)
        data = {"action": "approve", "rowid": "0", "select_all": "1", "csrf_token": token}
        path = f"/admin/comment/action/?flt0_status_equals=pending&search={random.choice(self.plan.words)}"
        self.request("moderator: bulk action (all matching)", "POST", path, (302,), data=data)


class Administrator(Staff):
    """Exports the pending comments in the request (csv or xlsx), and all approved ones as a background job, which
    the worker runs while the administrator watches its progress and then downloads it."""

    email = "administrator@example.com"
    job_page: str | None = None

    @task
    def export(self) -> None:
        fmt = random.choice(["csv", "xlsx"])
        self.request(
            f"administrator: export pending ({fmt})", "GET", f"/admin/comment/export/{fmt}/?flt0_status_equals=pending",
            check=lambda r: None if "attachment" in r.headers.get("Content-Disposition", "") else "not a download",
        )  # fmt: skip
        if self.job_page is None:
            started = self.request(
                "administrator: start background export", "GET",
                "/admin/comment/export/csv/?flt0_status_equals=approved", (302,),
                check=lambda r: None if "/admin/comment/exports/" in r.headers.get("Location", "") else "no job page",
            )  # fmt: skip
            self.job_page = urlsplit(started.headers["Location"]).path if started is not None else None
            return
        status = self.request(
            "administrator: export progress", "GET", self.job_page.rstrip("/") + ".json",
            check=lambda r: f"background export failed: {r.json()}" if r.json().get("status") == "failed" else None,
        )  # fmt: skip
        if status is None:
            self.job_page = None
        elif download := status.json().get("download_url"):
            self.request(
                "administrator: download background export", "GET", urlsplit(download).path,
                check=lambda r: None if len(r.content) > 1000 else f"only {len(r.content)} bytes",
            )  # fmt: skip
            self.job_page = None


class Translator(Staff):
    """Saves the Chinese text of "Latest posts" in the translation workspace, in turn with two wordings: each save
    rebuilds every worker's catalogs and changes what readers see."""

    email = "translator@example.com"
    wordings = ["最新文章", "最新的文章"]
    turn = 0

    @task
    def translate(self) -> None:
        page = self.request("translator: search entries", "GET", "/admin/translations/zh/?q=Latest+posts")
        if page is None:
            return
        self.turn += 1
        data = {**entry_form(page.text, "Latest posts"), "form_0": self.wordings[self.turn % 2]}
        save = "/admin/translations/zh/save?q=Latest+posts"
        self.request("translator: save translation", "POST", save, (302,), data=data)


PEOPLE = [Reader, Author, Editor, Moderator, Administrator, Translator]


def measured(environment: Environment, seconds: float, loads: dict) -> dict:
    """What load.py reports, from Locust's statistics (times in ms)."""
    stats = environment.stats
    return {
        "seconds": seconds,
        "load_average": loads,
        "requests": [
            {
                "name": entry.name,
                "method": entry.method,
                "count": entry.num_requests,
                "failures": entry.num_failures,
                "p50": entry.get_response_time_percentile(0.5),
                "p95": entry.get_response_time_percentile(0.95),
                "max": entry.max_response_time,
            }
            for entry in stats.entries.values()
        ],
        "errors": [
            {"name": error.name, "error": error_text(error.error), "occurrences": error.occurrences}
            for error in stats.errors.values()
        ],
        "exceptions": [
            {"count": row["count"], "message": row["msg"], "traceback": row["traceback"]}
            for row in environment.runner.exceptions.values()
        ],
    }


def error_text(error) -> str:
    """A failure's message (the one `Person.request` gave it), or the exception Locust caught."""
    if isinstance(error, CatchResponseError):
        return str(error.args[0])
    return StatsError.parse_error(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", required=True, help="the server, e.g. http://127.0.0.1:8131")
    parser.add_argument("--facts", required=True, type=Path, help="JSON: slugs, authors, post_ids, words")
    parser.add_argument("--stats", required=True, type=Path, help="where to write what was measured (JSON)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--readers", type=int, default=50)
    args = parser.parse_args()

    staff = sum(person.fixed_count for person in PEOPLE)  # one of each role
    people = args.readers + staff
    line = StartLine(people)
    Person.plan = Plan(**json.loads(args.facts.read_text()), line=line)
    # stop_timeout: when the time is up, whoever is in the middle of something gets to finish it.
    environment = Environment(user_classes=PEOPLE, host=args.host, stop_timeout=5 * TIMEOUT)
    runner = environment.create_local_runner()
    progress("the staff sign in")
    runner.start(people, spawn_rate=people)
    if not line.open.wait(timeout=5 * TIMEOUT):
        runner.quit()
        raise SystemExit(f"only {line.arrived} of {people} people got to the start line")
    before = os.getloadavg()
    progress(f"{args.readers} readers and {staff} staff for {args.seconds} s (load average {before[0]:.2f})")
    gevent.sleep(line.started + args.seconds - time.monotonic())
    runner.stop()
    seconds = time.monotonic() - line.started
    runner.quit()
    loads = {"before": before, "after": os.getloadavg()}
    args.stats.write_text(json.dumps(measured(environment, seconds, loads), indent=1))


if __name__ == "__main__":
    main()
