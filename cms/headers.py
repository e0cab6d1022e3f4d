"""Security headers on every response (Flask-Talisman): the Content-Security-Policy with a per-request nonce,
framing, content sniffing, the referrer, and HSTS where settings.py turns it on (production).

No page may need `'unsafe-inline'`: scripts and style sheets are files from this origin, or inline blocks that carry
the request's nonce (`csp_nonce()` in templates; Flask-Admin's templates get it through `Admin(csp_nonce_generator=)`);
inline event handlers (`onclick=` …) and `style=` attributes are not used. Public pages carry no nonce at all, so
the page cache can serve one reader's page to another: a page whose body holds its request's nonce is never
cached (`carries_nonce`)."""

import secrets

from flask import Flask, current_app, redirect, request
from flask_talisman import DENY, Talisman

NONCE_BYTES = 24

# One policy for every page: the public site, the account pages, the console, the API, error pages, downloads.
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",  # and the request's nonce
    "style-src": "'self'",  # and the request's nonce
    "img-src": "'self' data:",  # Bootstrap's CSS draws icons from data: URLs; the two-factor QR code is one
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    # The console and the site are never framed, by anyone (X-Frame-Options: DENY says the same to old browsers).
    "frame-ancestors": "'none'",
}
NONCE_IN = ["script-src", "style-src"]

# An uploaded image opened on its own: nothing runs and nothing loads but the image itself.
FILE_POLICY = {
    "default-src": "'none'",
    "img-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
    "sandbox": "",
}
ENDPOINT_POLICIES = {"site.media_file": FILE_POLICY}

PERMISSIONS_POLICY = {"browsing-topics": "()", "camera": "()", "geolocation": "()", "microphone": "()"}


def csp_nonce() -> str:
    """This request's nonce, made on first use (Talisman makes one before each request; a response made before
    that, e.g. by an earlier before-request hook, still gets a nonce that its header names)."""
    nonce = getattr(request, "csp_nonce", None)
    if not nonce:
        nonce = request.csp_nonce = secrets.token_urlsafe(NONCE_BYTES)  # type: ignore[attr-defined]
    return nonce


def carries_nonce(body: bytes) -> bool:
    """Whether a response body holds this request's nonce: such a page must not be served to anyone else."""
    nonce: str | None = getattr(request, "csp_nonce", None)
    if not nonce:
        return False
    return nonce.encode() in body


class HeaderTalisman(Talisman):
    """Flask-Talisman, with the headers of a response that carries no nonce built once per view.

    Talisman parses its policies into header values again for every response: about 25 µs of the 140 that a page
    from the page cache costs in-process, for headers that are the same every time. A request that made a nonce
    (`csp_nonce`) gets Talisman's own headers, its nonce in the policy; one without (a page from the page cache,
    whose early answer comes before Talisman makes one) gets the view's headers as Talisman built them the first
    time. HSTS depends on the request (https or not) and is set each time, as Talisman sets it."""

    def __init__(self, *args, **kwargs):
        self._built_headers: dict = {}
        super().__init__(*args, **kwargs)

    def _set_response_headers(self, response):
        if getattr(request, "csp_nonce", None):
            return super()._set_response_headers(response)
        view = current_app.view_functions.get(request.endpoint or "")
        built = self._built_headers.get(view)
        if built is None:
            # What Talisman adds to a blank response, less HSTS: the same headers for every such response of the view.
            blank = current_app.response_class()
            own = {name.lower() for name in blank.headers.keys()} | {"strict-transport-security"}
            added = super()._set_response_headers(blank).headers.items()
            built = self._built_headers[view] = [(name, value) for name, value in added if name.lower() not in own]
        for name, value in built:
            response.headers[name] = value
        self._set_hsts_headers(response.headers)
        return response


def redirect_to_https():
    """FORCE_HTTPS: a request that did not arrive over https (directly, or through a proxy that says so in
    X-Forwarded-Proto) is sent to the same URL over https."""
    if not request.is_secure and request.headers.get("X-Forwarded-Proto", "http") != "https":
        return redirect(request.url.replace("http://", "https://", 1), 301)
    return None


def init_app(app: Flask) -> None:
    """Call after page_cache.register: the https redirect must come before the page cache's early answer."""
    config = app.config
    hsts_max_age = int(config["HSTS_MAX_AGE"])
    # One Talisman per app: it keeps its options (and the app) on itself, and tests build several apps.
    talisman = HeaderTalisman(
        app,
        content_security_policy=POLICY,
        content_security_policy_nonce_in=NONCE_IN,
        frame_options=DENY,
        permissions_policy=PERMISSIONS_POLICY,
        referrer_policy="strict-origin-when-cross-origin",
        force_https=False,  # redirect_to_https, ahead of the page cache
        # Sent only on https requests (request.is_secure, or X-Forwarded-Proto: https from the TLS proxy).
        strict_transport_security=hsts_max_age > 0,
        strict_transport_security_max_age=hsts_max_age,
        strict_transport_security_include_subdomains=True,
        # Talisman would otherwise rewrite the cookie settings: settings.py owns them.
        session_cookie_secure=config.get("SESSION_COOKIE_SECURE", False),
        session_cookie_samesite=config.get("SESSION_COOKIE_SAMESITE"),
        session_cookie_http_only=config.get("SESSION_COOKIE_HTTPONLY", True),
    )
    app.extensions["cms.headers"] = talisman
    if config["FORCE_HTTPS"]:
        app.before_request_funcs.setdefault(None, []).insert(0, redirect_to_https)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    for endpoint, policy in ENDPOINT_POLICIES.items():
        talisman(content_security_policy=policy, content_security_policy_nonce_in=[])(app.view_functions[endpoint])
