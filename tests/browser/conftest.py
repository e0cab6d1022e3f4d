"""A live server and Debian's Chromium driven by Playwright, for what only a browser shows (scripts)."""

from tests.support.browser import browser_engine, live_server, page  # noqa: F401  (fixtures)
