"""Redirect targets a visitor can set: `next=` on signing in, out, up and re-authenticating, and the console's
return address (`url=`, Flask-Admin's) on its forms and actions. Whatever they are set to, a browser following
the answer stays on this site: the target is refused, or the redirect goes to a page of the site."""

import re

import pytest

from cms.extensions import db
from cms.models import BlockedWord
from tests.support.web import PASSWORD, Browserish

HOSTILE = [
    "//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "%2F%2Fevil.example",
    "\\\\evil.example", "///evil.example", "http:evil.example", "https:evil.example", "/\t/evil.example",
    " //evil.example", "//evil.example@localhost", "\\/evil.example", "/%09/evil.example", "data:text/html,x",
    "http://localhost.evil.example/", "https://localhost@evil.example/",
]  # fmt: skip


def off_site(location: str | None) -> str | None:
    """Where a browser following `Location: location` from http://localhost/ would go if not to this site (the
    WHATWG URL rules, for what matters here), or None when it stays."""
    if not location:
        return None
    text = re.sub(r"[\t\n\r]", "", location.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                                  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
                                                  "\x1e\x1f \t\n\r")).replace("\\", "/")  # fmt: skip
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):(.*)", text)
    if scheme:
        name, rest = scheme.group(1).lower(), scheme.group(2)
        if name not in ("http", "https"):
            return location  # javascript:, data: … are not pages of this site
        if name == "http" and not rest.startswith("/"):
            return None  # same scheme, no slashes: a path relative to the page
        authority = rest.lstrip("/")
    elif text.startswith("//"):
        authority = text[2:]
    else:
        return None
    host = re.split(r"[/?#]", authority, maxsplit=1)[0].rsplit("@", 1)[-1].split(":")[0].lower()
    return None if host == "localhost" else location


def test_the_judge_of_redirects_knows_off_site_from_on_site():
    """The model of a browser above, on answers whose fate is known."""
    for gone in ("//evil.example", "http:///evil.example", "https://evil.example/x", "/\\evil.example",
                 "\t//evil.example", "javascript:alert(1)", "https://localhost@evil.example/"):  # fmt: skip
        assert off_site(gone), gone
    for stays in ("/", "/admin/post/?page=2", "http:evil.example", "/%5Cevil.example", "%2F%2Fevil.example",
                  "http://localhost/en/", "/%09/evil.example"):  # fmt: skip
        assert off_site(stays) is None, stays


def refused_or_on_site(response, where: str) -> None:
    assert response.status_code in (200, 302, 303, 400), (where, response.status_code)
    if response.status_code in (302, 303):
        assert not off_site(response.location), f"{where} sends the browser to {response.location!r}"


@pytest.mark.parametrize("target", HOSTILE)
def test_signing_in_out_and_up_never_leaves_the_site(app, users, login_as, target):
    visitor = Browserish(app.test_client())
    credentials = {"email": "reader@example.com", "password": PASSWORD}
    refused_or_on_site(visitor.submit("/login", credentials, post_url=f"/login?next={target}"), "login ?next=")
    visitor = Browserish(app.test_client())
    refused_or_on_site(visitor.submit("/login", {**credentials, "next": target}), "login with next in the form")
    reader = login_as("reader")
    refused_or_on_site(reader.post("/verify", query_string={"next": target},
                                   data={"password": PASSWORD, "csrf_token": reader.csrf()}), "verify")  # fmt: skip
    refused_or_on_site(reader.post("/logout", query_string={"next": target}, data={"csrf_token": reader.csrf()}),
                       "logout")  # fmt: skip
    newcomer = Browserish(app.test_client())
    account = {"email": "new@example.com", "username": "newcomer", "password": PASSWORD, "password_confirm": PASSWORD}
    refused_or_on_site(newcomer.submit("/register", account, post_url=f"/register?next={target}"), "register")


@pytest.mark.parametrize("target", HOSTILE)
def test_the_consoles_return_address_never_leaves_the_site(login_as, target):
    moderator = login_as("moderator")
    form = moderator.get("/admin/blockedword/new/", query_string={"url": target})
    refused_or_on_site(form, "the create form")
    saved = moderator.post("/admin/blockedword/new/", query_string={"url": target},
                           data={"word": "kept", "csrf_token": moderator.csrf()})  # fmt: skip
    refused_or_on_site(saved, "saving the create form")
    word, other = BlockedWord(word="target"), BlockedWord(word="other")
    db.session.add_all([word, other])
    db.session.commit()
    for url, data in ((f"/admin/blockedword/edit/?id={word.id}", {"word": "target"}),
                      ("/admin/blockedword/action/", {"action": "delete", "rowid": word.id}),
                      ("/admin/blockedword/delete/", {"id": other.id})):  # fmt: skip
        response = moderator.post(url, data={**data, "url": target, "csrf_token": moderator.csrf()})
        refused_or_on_site(response, url)
