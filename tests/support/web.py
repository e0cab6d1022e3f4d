"""A test client that behaves like a browser: CSRF tokens read from the page, forms submitted as shown."""

import contextvars
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from passlib.totp import TOTP

PASSWORD = "correct-horse-battery"
# The authenticator key (base32) of the fixtures' staff users: `login` types the code an app holding it shows.
TOTP_KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(key: str = TOTP_KEY, at: float | None = None) -> str:
    """The code an authenticator app holding `key` shows now (or at the Unix time `at`)."""
    return TOTP(key=key, format="base32").generate(time=at).token


def authenticator_key(html: str) -> str:
    """The key /tf-setup shows beside its QR code, for typing into an app by hand ("ABCD-EFGH-…")."""
    found = re.search(r"<div>([A-Z2-7]{4}(?:-[A-Z2-7]{1,4})+)</div>", html)
    assert found, "the page shows no authenticator key"
    return found.group(1).replace("-", "")


def csrf_token(html: str) -> str:
    for tag in re.findall(r"<input[^>]*>", html):
        if 'name="csrf_token"' in tag:
            return re.search(r'value="([^"]+)"', tag).group(1)
    raise AssertionError("page has no CSRF token")


class _Isolated:
    """Runs each request in an empty context, so it gets its own app context, `g` and database session
    instead of sharing the test's (Flask reuses an app context that is already pushed)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in ("get", "post", "put", "patch", "delete", "head", "open"):
            return lambda *args, **kwargs: contextvars.Context().run(self._complete, attr, *args, **kwargs)
        return attr

    @staticmethod
    def _complete(method, *args, **kwargs):
        response = method(*args, **kwargs)
        response.get_data()  # a streamed body (exports) is produced inside the same context
        return response


class Browserish:
    """A test client that reads the CSRF token from the page it fetched, as a browser would."""

    def __init__(self, client):
        self.client = _Isolated(client)
        self.totp_keys: dict[str, str] = {}  # keys this browser set up, by email; others hold TOTP_KEY

    def __getattr__(self, name):
        return getattr(self.client, name)

    def token_for(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return csrf_token(response.get_data(as_text=True))

    def csrf(self) -> str:
        """The session's CSRF token, read from a page every visitor can open."""
        response = self.client.get("/change")  # signed in: the change-password form
        if response.status_code != 200:
            response = self.client.get("/login")
        return csrf_token(response.get_data(as_text=True))

    def submit(self, form_url: str, data: dict, post_url: str | None = None, **kwargs):
        """GET the form page, then POST `data` with its CSRF token."""
        payload = {"csrf_token": self.token_for(form_url), **data}
        return self.client.post(post_url or form_url, data=payload, **kwargs)

    def open_form(self, url: str) -> dict:
        """The values the page's form would submit unchanged, as a browser would."""
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return form_values(response.get_data(as_text=True))

    def edit(self, url: str, changes: dict, **kwargs):
        """Open the form at `url`, change some fields, submit it."""
        return self.client.post(url, data={**self.open_form(url), **changes}, **kwargs)

    def logout(self):
        response = self.client.post("/logout", data={"csrf_token": self.csrf()})
        assert response.status_code == 302
        return response

    def login(self, email: str, password: str = PASSWORD):
        """Sign in through the forms, with the second factor when asked: the code of the key this browser set up
        for `email`, else of TOTP_KEY; a member who must have one and has none sets one up on the way."""
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        step = urlsplit(response.location).path
        if step == "/tf-validate":
            response = self.submit(response.location, {"code": totp_code(self.totp_keys.get(email, TOTP_KEY))})
            assert response.status_code == 302, page_errors(response)
        elif step == "/tf-setup":
            response = self.set_up_two_factor(email)
        return response

    def set_up_two_factor(self, email: str):
        """At /tf-setup, as a member does: choose the authenticator app, read the key it shows, type its code.
        The key is kept for this browser's next sign-in as `email`; returns the response to the code."""
        page = self.submit("/tf-setup", {"setup": "authenticator"}).get_data(as_text=True)
        key = authenticator_key(page)
        action = re.search(r'<form action="([^"]+)" method="post" name="two_factor_verify_code_form"', page).group(1)
        response = self.client.post(action, data={"csrf_token": csrf_token(page), "code": totp_code(key)})
        assert response.status_code == 302, page_errors(response)
        self.totp_keys[email] = key
        return response


class _FormReader(HTMLParser):
    """The values a browser would submit for each form with method=post on a page."""

    def __init__(self):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self.values: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._in_form = True
            self.values = []
            self.forms.append(self.values)
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.append((name, a.get("value") or ("y" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._first_option = name, None, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self._first_option = value if self._first_option is None else self._first_option
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
        elif tag == "select" and self._select:
            value = self._select_value if self._select_value is not None else self._first_option
            if value is not None:
                self.values.append((self._select, value))
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop one newline right after <textarea>.
            self.values.append((self._textarea, self._text.removeprefix("\r\n").removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def form_values(html: str) -> dict:
    """The fields of the page's main form (the post form with the most fields)."""
    reader = _FormReader()
    reader.feed(html)
    values: dict = {}
    for name, value in max(reader.forms, key=len, default=[]):
        if name in values:
            values[name] = [*values[name], value] if isinstance(values[name], list) else [values[name], value]
        else:
            values[name] = value
    return values


def page_errors(response) -> list[str]:
    """Form errors and flashed messages on a page, for assertion messages."""
    html = response.get_data(as_text=True)
    found = re.findall(r'class="form-text text-danger[^"]*">(.*?)</ul>', html, re.S)
    found += re.findall(r'class="alert alert-(?:danger|error|warning)[^"]*"[^>]*>(.*?)</div>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", chunk)).strip() for chunk in found] or [html[:300]]


def assert_counted_to_the_cap(app, monkeypatch, browser, url: str, found: int) -> None:
    """`url` lists `found` rows: with LIST_COUNT_CAP at `found` the list says so, one below it says "More than",
    and the exact count is one click away (`&exact_count=1`)."""
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", found)
    assert f"{found} rows match." in browser.get(url).get_data(as_text=True)
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", found - 1)
    html = browser.get(url).get_data(as_text=True)
    assert f"More than {found - 1} rows match." in html and f"{found} rows match." not in html
    assert f"{found} rows match." in browser.get(f"{url}&exact_count=1").get_data(as_text=True)
