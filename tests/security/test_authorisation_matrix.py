"""Authorisation: every route of the URL map × anonymous and every default role, compared with the declared
table in tests/security/access.py. Every URL is filled with rows that exist (tests/security/routes.py), routes
that only take POST are sent a valid CSRF token. A route the table does not name fails, by name."""

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.security.access import FORBIDDEN, HIDDEN, ROLES, TABLE, Outcome, expected
from tests.security.routes import Request, requests_for

# These end the session they are sent in (sign-out; a confirmation link signs its own account in): sent last.
SESSION_ENDERS = ("security.confirm_email", "security.logout")
# The two-factor steps of a sign-in in progress: opened outside one, Flask-Security ends the session they are sent
# in. Each is sent in a session of its own.
OWN_SESSION = (
    "security.two_factor_token_validation",
    "security.two_factor_rescue",
    "security.tf_select",
    "security.mf_recovery",
    "security.two_factor_setup_validate",
)


def test_every_route_of_the_url_map_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - TABLE.keys())
    assert not missing, f"Routes with no row in tests/security/access.py TABLE (who may use them?): {missing}"
    gone = sorted(TABLE.keys() - endpoints)
    assert not gone, f"Rows of tests/security/access.py TABLE for routes the app no longer has: {gone}"


def send(browser, request: Request, token: str):
    if request.method == "GET":
        return browser.get(request.url, query_string=request.query)
    return getattr(browser, request.method.lower())(request.url, data={"csrf_token": token, **request.form})


def matches(want: Outcome, response, request: Request) -> bool:
    if response.status_code != want.status:
        return False
    if want.location is None:
        return True
    location = urlsplit(response.location or "")
    if want.location == "login":  # the login page, asked to come back to this very route
        back = unquote(parse_qs(location.query).get("next", [""])[0])
        return location.path == "/login" and urlsplit(back).path == request.url and not urlsplit(back).netloc
    return location.path.startswith(want.location) and location.netloc in ("", "localhost")


@pytest.mark.parametrize("role", ROLES, ids=[str(role) for role in ROLES])
def test_every_route_answers_each_role_as_the_table_says(app, rows, login_as, role):
    browser = login_as(role)
    token = browser.csrf()
    requests = sorted(requests_for(app, rows), key=lambda request: request.endpoint in SESSION_ENDERS)
    wrong = []
    for request in requests:
        if request.endpoint not in TABLE:
            continue  # named by test_every_route_of_the_url_map_is_in_the_table
        if request.endpoint in OWN_SESSION:
            own = login_as(role)
            response = send(own, request, own.csrf())
        else:
            response = send(browser, request, token)
        want = expected(request.endpoint, role)
        if not matches(want, response, request):
            got = f"{response.status_code}{f' → {response.location}' if response.location else ''}"
            wrong.append(f"{request}: expected {want}, got {got}")
    assert not wrong, f"{role or 'anonymous'}:\n" + "\n".join(wrong)


# Rows a role may not touch inside a view it may open: the console hides them (404) or refuses (403).
OTHERS_ROWS = [
    ("author", "GET", "/admin/post/edit/?id={rows.published.id}", HIDDEN),
    ("author", "GET", "/admin/post/details/?id={rows.published.id}", HIDDEN),
    ("author", "GET", "/admin/post/revisions/?id={rows.published.id}", HIDDEN),
    ("author", "GET", "/admin/post/diff/?id={rows.published.id}&a=1&b=2", HIDDEN),
    ("author", "POST", "/admin/post/delete/?id={rows.published.id}", HIDDEN),
    ("author", "POST", "/admin/post/restore/?id={rows.published.id}&revision={rows.revisions[0]}", HIDDEN),
    ("moderator", "GET", "/admin/comment/exports/{rows.admin_job.id}/", FORBIDDEN),
    ("moderator", "GET", "/admin/comment/exports/{rows.admin_job.id}.json", FORBIDDEN),
    ("moderator", "GET", "/admin/comment/exports/{rows.admin_job.id}/download", FORBIDDEN),
]


@pytest.mark.parametrize(("role", "method", "url", "want"), OTHERS_ROWS, ids=[f"{r}-{u}" for r, _, u, _ in OTHERS_ROWS])
def test_rows_of_others_are_hidden_or_refused(rows, login_as, role, method, url, want):
    browser = login_as(role)
    path, _, query = url.format(rows=rows).partition("?")
    fields = dict(pair.split("=") for pair in query.split("&") if pair)
    if method == "GET":
        response = browser.get(path, query_string=fields)
    else:
        response = browser.post(path, data={**fields, "csrf_token": browser.csrf()})
    assert response.status_code == want.status, (url, response.status_code)
