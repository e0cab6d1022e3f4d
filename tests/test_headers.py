"""Security headers (cms/headers.py) on every route of the URL map, anonymous and as an administrator: a
Content-Security-Policy that allows no inline script or style, framing refused, HSTS in production only; pages
that need no inline code; and the page cache never serving one request's nonce to another."""

import re
from html.parser import HTMLParser

import pytest
from flask import Response
from flask_talisman import Talisman

from cms import create_app
from cms.page_cache import cached_page
from tests.support.routes import get_routes, make_sample_rows

# Responses no route sweep reaches: static files of each kind, error pages, the API's JSON errors.
EXTRA_URLS = ["/static/site.css", "/static/admin/console.js", "/fs-static/js/webauthn.js",
              "/admin/static/vendor/jquery.min.js", "/no-such-page", "/en/posts/no-such-post",
              "/api/v1/posts/999999", "/admin/no-such-view/", "/admin/translations/zh/",
              "/admin/translations/zh/?state=untranslated&q=sign"]  # fmt: skip
EXECUTABLE_TYPES = {"", "text/javascript", "application/javascript", "module"}
ONE_YEAR = 365 * 24 * 3600


def policy(response) -> dict[str, list[str]]:
    """The response's CSP directives; script-src, style-src and object-src fall back to default-src, as in browsers."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}
    for name in ("script-src", "style-src", "object-src"):
        if name not in directives and "default-src" in directives:
            directives[name] = directives["default-src"]
    return directives


class InlineCode(HTMLParser):
    """What in a page would need 'unsafe-inline': scripts and style blocks without the nonce, event-handler and
    style attributes."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce = nonce
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=…>")
        if tag == "script" and "src" not in attributes and (attributes.get("type") or "") in EXECUTABLE_TYPES:
            if not self.nonce or attributes.get("nonce") != self.nonce:
                self.problems.append("<script> without the response's nonce")
        if tag == "style" and (not self.nonce or attributes.get("nonce") != self.nonce):
            self.problems.append("<style> without the response's nonce")


def inline_code(response) -> list[str]:
    nonces = {value.removeprefix("'nonce-").removesuffix("'") for value in policy(response).get("script-src", [])
              if value.startswith("'nonce-")}  # fmt: skip
    parser = InlineCode(next(iter(nonces), None))
    parser.feed(response.get_data(as_text=True))
    return parser.problems


@pytest.fixture
def sweep(app, users):
    variables, ids = make_sample_rows(users)
    return get_routes(app, variables, ids) + EXTRA_URLS


@pytest.mark.parametrize("role", [None, "administrator"])
def test_every_route_sends_the_policy_and_its_pages_need_no_inline_code(login_as, sweep, role):
    browser = login_as(role)
    problems, html_pages = [], 0
    for url in sweep:
        response = browser.get(url)
        directives = policy(response)
        expected = {
            "script-src without 'unsafe-inline'": "script-src" in directives
            and not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(directives["script-src"]),
            "style-src without 'unsafe-inline'": "style-src" in directives
            and "'unsafe-inline'" not in directives["style-src"],
            "frame-ancestors 'none'": directives.get("frame-ancestors") == ["'none'"],
            "object-src 'none'": directives.get("object-src") == ["'none'"],
            "base-uri": "base-uri" in directives,
            "form-action": "form-action" in directives,
            "X-Frame-Options DENY": response.headers.get("X-Frame-Options") == "DENY",
            "nosniff": response.headers.get("X-Content-Type-Options") == "nosniff",
            "Referrer-Policy": response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin",
            "no HSTS outside production": "Strict-Transport-Security" not in response.headers,
            "no malformed header value": not any("=True" in value for _, value in response.headers.items()),
        }
        problems += [(url, response.status_code, name) for name, ok in expected.items() if not ok]
        if response.mimetype == "text/html" and response.status_code == 200:
            html_pages += 1
            problems += [(url, problem) for problem in inline_code(response)]
    assert problems == []
    assert len(sweep) > 70
    assert html_pages > (35 if role else 5)  # the sweep saw real pages, not only redirects


def test_an_uploaded_image_is_served_with_a_policy_that_runs_nothing(client, users, sweep):
    image = next(url for url in sweep if url.startswith("/media/images/"))
    response = client.get(image)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'none'"]
    assert "sandbox" in directives
    assert directives["frame-ancestors"] == ["'none'"]


def settings_of(app, **overrides) -> dict:
    """What a second app needs to run on the fixture app's database and folders."""
    names = [
        "SECRET_KEY",
        "SECURITY_PASSWORD_SALT",
        "SECURITY_TOTP_SECRETS",
        "UPLOADS_DIR",
        "EXPORTS_DIR",
        "IMPORTS_DIR",
        "CATALOG_BUILD_DIR",
    ]
    return {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], **{n: app.config[n] for n in names}, **overrides}


@pytest.mark.parametrize(
    ("config", "scheme", "forwarded", "hsts"),
    [
        ("production", "https", None, True),
        ("production", "http", "https", True),  # behind the TLS proxy
        ("production", "http", None, False),  # plain http: the header would be ignored (RFC 6797), so none
        ("development", "https", None, False),
        ("testing", "https", None, False),
    ],
)
def test_hsts_is_sent_in_production_on_https_only(app, config, scheme, forwarded, hsts):
    other = create_app(config, **settings_of(app))
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    response = other.test_client().get("/en/", base_url=f"{scheme}://localhost", headers=headers)
    assert response.status_code == 200  # never redirected to https by the app: the proxy does that
    value = response.headers.get("Strict-Transport-Security")
    if hsts:
        max_age = int(re.search(r"max-age=(\d+)", value).group(1))
        assert max_age >= ONE_YEAR and "includeSubDomains" in value
    else:
        assert value is None


@pytest.mark.parametrize("config", ["development", "testing"])
def test_plain_http_on_127_0_0_1_is_served_not_redirected(app, config):
    other = create_app(config, **settings_of(app))
    response = other.test_client().get("/login", base_url="http://127.0.0.1:5000")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
    set_cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" not in set_cookie  # a cookie the browser would not send back over http


def test_force_https_redirects_every_page_cached_ones_included_unless_the_proxy_says_https(app, users, sweep):
    other = create_app("production", **settings_of(app, FORCE_HTTPS=True))
    page = next(url for url in sweep if url.startswith("/en/posts/"))
    client = other.test_client()
    assert client.get(page, base_url="https://localhost").status_code == 200  # now in the page cache
    for _ in range(2):
        response = client.get(page, base_url="http://localhost")
        assert response.status_code == 301
        assert response.headers["Location"] == f"https://localhost{page}"
    assert client.get(page, headers={"X-Forwarded-Proto": "https"}).status_code == 200


def test_a_cached_public_page_needs_no_nonce(client, users, sweep):
    """Public pages come from the page cache, served before Talisman makes a nonce: they must need none."""
    page = next(url for url in sweep if url.startswith("/en/posts/"))
    first, cached = client.get(page), client.get(page)
    assert first.get_data() == cached.get_data()
    assert first.headers["ETag"] == cached.headers["ETag"]
    assert "nonce" not in first.get_data(as_text=True)
    assert inline_code(cached) == []
    assert "<script" not in first.get_data(as_text=True)


def test_a_page_that_carries_its_nonce_is_not_served_to_another_request(app):
    """If a cached public page ever had a nonce'd inline script, a cached copy would carry an old nonce under a new
    header and the browser would block it: such a page is rendered afresh each time."""
    other = create_app("testing", **settings_of(app))

    @other.route("/<locale>/with-a-script")
    @cached_page
    def with_a_script(locale):
        from flask import render_template_string

        return render_template_string('<script nonce="{{ csp_nonce() }}">window.ran = true</script>')

    client = other.test_client()
    first, second = client.get("/en/with-a-script"), client.get("/en/with-a-script")
    nonces = []
    for response in (first, second):
        (nonce,) = re.findall(r'nonce="([^"]+)"', response.get_data(as_text=True))
        assert f"'nonce-{nonce}'" in policy(response)["script-src"]
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_a_cached_page_without_a_nonce_is_still_cached(app):
    """The other side of the rule above: a page that does not carry its nonce is stored and served again."""
    other = create_app("testing", **settings_of(app))
    renders = []

    @other.route("/<locale>/plain")
    @cached_page
    def plain(locale):
        renders.append(locale)
        return "<p>no script</p>"

    client = other.test_client()
    assert client.get("/en/plain").get_data() == client.get("/en/plain").get_data() == b"<p>no script</p>"
    assert renders == ["en"]


@pytest.mark.parametrize("base_url", ["http://localhost", "https://localhost"])
def test_headers_without_a_nonce_are_talismans_own_each_time(app, users, sweep, base_url):
    """cms.headers.HeaderTalisman builds the headers of a response that carries no nonce (a page from the page
    cache, an uploaded image, a refusal answered before Talisman runs) once per view: they are what Talisman itself
    sets, HSTS by the request's scheme, the first time and from then on."""
    talisman = app.extensions["cms.headers"]
    image = next(url for url in sweep if url.startswith("/media/") or "/uploads/" in url)
    for path in [next(url for url in sweep if url.startswith("/en/posts/")), image, "/no-such-page", "/admin/"]:
        with app.test_request_context(path, base_url=base_url):
            expected = list(Talisman._set_response_headers(talisman, Response("x")).headers.items())
            for _ in range(2):
                assert list(talisman._set_response_headers(Response("x")).headers.items()) == expected, path
