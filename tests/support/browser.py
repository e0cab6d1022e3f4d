"""The real browser: a live server, Debian's Chromium driven by Playwright, and steps the browser tests share."""

import contextlib
import os
import re
import shutil
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.support.web import PASSWORD, TOTP_KEY, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@contextlib.contextmanager
def serve(app):
    """`app` served over HTTP on a free local port while the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser_engine():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is needed for the browser tests: apt-get install chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser_engine, live_server):
    context = browser_engine.new_context(base_url=live_server, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def submit_password(page, email: str, password: str = PASSWORD) -> None:
    """The sign-in form's first step: email and password, sent; waits until the page has left /login."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")


def sign_in(page, email: str, password: str = PASSWORD, totp_key: str = TOTP_KEY) -> None:
    """Sign in through the form, typing the authenticator's code when the second step asks for it."""
    submit_password(page, email, password)
    if urlsplit(page.url).path == "/tf-validate":
        page.fill("#code", totp_code(totp_key))
        page.click("form[name=two_factor_verify_code_form] [type=submit]")
        page.wait_for_url(lambda url: urlsplit(url).path not in ("/tf-validate", "/login"))


def enrol_authenticator(page, email: str, password: str, at=lambda state: None) -> str:
    """A staff account's first sign-in: the password, then the required two-factor setup with an authenticator
    (its QR code and key), the first code, and new recovery codes; the key. `at(state)` is called at each step's
    page ("/tf-setup, required", "/tf-setup, QR code shown", "/mf-recovery-codes, codes shown")."""
    submit_password(page, email, password)
    page.wait_for_url("**/tf-setup")
    at("/tf-setup, required")
    page.check("input[value=authenticator]")
    page.click("form[name=two_factor_setup_form] [type=submit]")
    page.wait_for_selector("#qrcode")
    at("/tf-setup, QR code shown")
    key = re.search(r"[A-Z2-7]{4}(?:-[A-Z2-7]{1,4})+", page.inner_text(".fs-center")).group(0).replace("-", "")
    page.fill("#code", totp_code(key))
    page.click("form[name=two_factor_verify_code_form] [type=submit]")
    page.wait_for_url("**/mf-recovery-codes")
    page.click("#generate_new_codes")
    page.wait_for_selector(".recovery-codes code")
    at("/mf-recovery-codes, codes shown")
    return key


def watch_for_problems(page) -> list[str]:
    """What must not happen on any page the browser opens from now on: Content-Security-Policy violations (reported
    by each document), console errors, uncaught script errors, and a script, style sheet, image or fetch that fails
    (a page itself may answer 404: tests open error pages on purpose). Returns the list they are added to."""
    problems: list[str] = []
    page.expose_function("__reportViolation", lambda text: problems.append(f"CSP: {text}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        "  window.__reportViolation([e.effectiveDirective, e.blockedURI, e.sourceFile + ':' + e.lineNumber,"
        "                            e.sample, document.location.pathname].join(' '));"
        "}, true);"
    )

    def console(message) -> None:
        # Failed loads are reported below, with what asked for them.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    def response(response) -> None:
        request = response.request
        if response.status >= 400 and not request.is_navigation_request() and "/favicon.ico" not in request.url:
            problems.append(f"{request.resource_type} {request.url}: {response.status}")

    def request_failed(request) -> None:
        if request.failure != "net::ERR_ABORTED":  # cut short by the next navigation
            problems.append(f"{request.resource_type} {request.url}: {request.failure}")

    page.on("console", console)
    page.on("response", response)
    page.on("requestfailed", request_failed)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return problems


def tab_to(page, selector: str, limit: int = 80, backwards: bool = False) -> int:
    """Press Tab (Shift+Tab `backwards`) until the element focused matches `selector`, as a keyboard user would;
    returns the presses it took. Fails when `limit` presses do not get there (not in the Tab order, or too far)."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(
            "(selector) => !!document.activeElement && document.activeElement.matches(selector)", selector
        ):
            return presses
    raise AssertionError(f"{limit} presses of Tab did not reach {selector} on {page.url}")
