"""CSRF: every route of the URL map that accepts a state-changing method refuses it without a valid token
(none, an empty one, another session's) with a 400 and changes nothing, sent by a role that may use the route.

Each route is sent the request that makes its change (FORGED): the same request with the page's token does
change the database, the outbox or the session, so "nothing changed" says something. A route that changes
nothing even with its token is in NO_EFFECT with the reason. A new route is refused like the others (it is
sent an empty form), and fails test_every_state_changing_route_is_declared until it is given a row."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from cms.extensions import db
from tests.images import png
from tests.security.access import allowed_roles
from tests.security.plant import po_upload
from tests.security.routes import CHANGING_METHODS, build, changing_rules, path_values
from tests.support.catalogs import entry_form, translations_of_this_test
from tests.support.database import fresh
from tests.support.web import PASSWORD, Browserish

NEW_PASSWORD = "another-long-password"


@dataclass(frozen=True)
class Forgery:
    """What a forged request to a route carries, as whom, and what it changes when it carries a valid token."""

    role: str | None
    form: Callable = lambda browser, rows: {}  # noqa: E731
    query: Callable = lambda rows: {}  # noqa: E731
    effect: str = "database"  # or "mail", or "session" (the sign-in it ends or renews)
    multipart: bool = False


def opened(url: str, **changes) -> Callable:
    """The form at `url` as the browser shows it (with the row's current values), some fields changed."""
    return lambda browser, rows: {**browser.open_form(url.format(rows=rows)), **changes}


def upload_preview(browser, rows) -> dict:
    _, token = po_upload(browser, "zh", {"Older": "更早的帖子"})
    assert token
    return {"token": token}


def import_preview(browser, rows) -> dict:
    accounts = b"email,username,name,roles,locale\nforged@example.com,forged,,Reader,en\n"
    page = browser.post(
        "/admin/user-import/",
        data={"csrf_token": browser.csrf(), "file": (io.BytesIO(accounts), "people.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    return {"token": re.search(r'name="token" value="([^"]+)"', page).group(1)}


def catalog_save(browser, rows) -> dict:
    page = browser.get("/admin/translations/zh/?q=Older").get_data(as_text=True)
    return {**entry_form(page, "Older"), "form_0": "更早的帖子"}


FORGED: dict[str, Forgery] = {
    "public.comment": Forgery("reader", lambda browser, rows: {"body": "A forged comment"}),
    "public.follow_author": Forgery("reader"),
    "public.unfollow_author": Forgery("reader"),
    "public.profile": Forgery("reader", opened("/en/profile", name="Forged name")),
    "security.login": Forgery(None, lambda browser, rows: {"email": "reader@example.com", "password": PASSWORD}),
    "security.logout": Forgery("reader", effect="session"),
    "security.register": Forgery(None, lambda browser, rows: {
        "email": "forged@example.com", "username": "forged", "password": PASSWORD, "password_confirm": PASSWORD}),
    "security.forgot_password": Forgery(None, lambda browser, rows: {"email": "reader@example.com"}, effect="mail"),
    "security.reset_password": Forgery(None, lambda browser, rows: {
        "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
    "security.change_password": Forgery("reader", lambda browser, rows: {
        "password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
    "security.send_confirmation": Forgery(None, lambda browser, rows: {"email": "spare@example.com"}, effect="mail"),
    "security.confirm_email": Forgery(None),
    "security.verify": Forgery("reader", lambda browser, rows: {"password": PASSWORD}, effect="session"),
    "post.create_view": Forgery("author", opened("/admin/post/new/", title="Forged", body="x")),
    "post.edit_view": Forgery("author", lambda browser, rows: {
        **browser.open_form(f"/admin/post/edit/?id={rows.draft.id}"), "title": "Forged"},
        query=lambda rows: {"id": rows.draft.id}),
    "post.restore_view": Forgery("author", lambda browser, rows: {"id": rows.draft.id, "revision": rows.revisions[0]}),
    "post.action_view": Forgery("author", lambda browser, rows: {"action": "review", "rowid": rows.draft.id}),
    "post.delete_view": Forgery("author", lambda browser, rows: {"id": rows.draft.id}),
    "media.create_view": Forgery("author", lambda browser, rows: {"file": (png(), "forged.png")},
                                 multipart=True),
    "media.delete_view": Forgery("author", lambda browser, rows: {"id": rows.media.id}),
    "media.action_view": Forgery("author", lambda browser, rows: {"action": "delete", "rowid": rows.media.id}),
    "comment.edit_view": Forgery("moderator", lambda browser, rows: {
        **browser.open_form(f"/admin/comment/edit/?id={rows.comment_id}"), "status": "hidden",
        "hidden_reason": "spam"}, query=lambda rows: {"id": rows.comment_id}),
    "comment.action_view": Forgery("moderator", lambda browser, rows: {"action": "approve", "rowid": rows.comment_id}),
    "comment.delete_view": Forgery("moderator", lambda browser, rows: {"id": rows.comment_id}),
    "blockedword.create_view": Forgery("moderator", lambda browser, rows: {"word": "forged"}),
    "blockedword.edit_view": Forgery("moderator", lambda browser, rows: {"word": "changed"},
                                     query=lambda rows: {"id": rows.blocked_word_id}),
    "blockedword.action_view": Forgery("moderator", lambda browser, rows: {
        "action": "delete", "rowid": rows.blocked_word_id}),
    "blockedword.delete_view": Forgery("moderator", lambda browser, rows: {"id": rows.blocked_word_id}),
    "user.create_view": Forgery("administrator", lambda browser, rows: {
        "email": "forged@example.com", "username": "forged", "active": "y"}),
    "user.edit_view": Forgery("administrator", lambda browser, rows: {
        **browser.open_form(f"/admin/user/edit/?id={rows.spare.id}"), "name": "Forged"},
        query=lambda rows: {"id": rows.spare.id}),
    "user.action_view": Forgery("administrator", lambda browser, rows: {"action": "delete", "rowid": rows.spare.id}),
    "user.delete_view": Forgery("administrator", lambda browser, rows: {"id": rows.spare.id}),
    "role.create_view": Forgery("administrator", lambda browser, rows: {"name": "Forged", "permissions": "follow"}),
    "role.edit_view": Forgery("administrator", lambda browser, rows: {
        **browser.open_form(f"/admin/role/edit/?id={rows.role.id}"), "name": "Renamed"},
        query=lambda rows: {"id": rows.role.id}),
    "role.action_view": Forgery("administrator", lambda browser, rows: {"action": "delete", "rowid": rows.role.id}),
    "role.delete_view": Forgery("administrator", lambda browser, rows: {"id": rows.role.id}),
    "translations.save": Forgery("translator", catalog_save),
    "translations.apply_upload": Forgery("translator", upload_preview),
    "translations.add": Forgery("administrator", lambda browser, rows: {"locale": "fr"}),
    "translations.post_workspace": Forgery("translator", opened(
        "/admin/translations/content/{rows.published.id}/zh/", title="Forged", body="x", action="current")),
    "userimport.apply_view": Forgery("administrator", import_preview),
    "outbox.action_view": Forgery("administrator", lambda browser, rows: {"action": "send_again",
                                                                          "rowid": rows.mail_id}),
    "site.accept_invitation": Forgery(None, lambda browser, rows: {
        "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
}  # fmt: skip

# Routes that change nothing even with a valid token, and why; they are still refused without one.
NO_EFFECT = {
    **{f"{view}.ajax_update": "no column of the list is editable: 404 with a token too"
       for view in ("post", "media", "comment", "blockedword", "user", "role", "follow", "audit", "outbox")},
    **{f"{view}.{name}": "the view does not offer it (404)" for view, name in [
        ("media", "edit_view"), ("comment", "create_view"), ("follow", "create_view"), ("follow", "edit_view"),
        ("follow", "delete_view"), ("audit", "create_view"), ("audit", "edit_view"), ("audit", "delete_view"),
        ("outbox", "create_view"), ("outbox", "edit_view"), ("outbox", "delete_view")]},
    "follow.action_view": "follows are read-only in the console: the delete action is refused (403)",
    "audit.action_view": "the audit log is read-only: the delete action is refused (403)",
    "post.preview_view": "renders the body it is sent; stores nothing",
    "translations.upload": "a preview: nothing is stored until it is applied",
    "userimport.index": "a dry run: nothing is stored until it is applied",
}  # fmt: skip


@pytest.fixture(autouse=True)
def catalogs_built_again_afterwards(app):
    """The forged catalog saves change the app's own catalogs: no other test may see them (Flask-Babel's process
    cache is emptied, and the app builds its catalogs again on its next request)."""
    with translations_of_this_test(app):
        yield
    app.extensions.pop("cms.catalogs", None)


def snapshot() -> str:
    """A digest of every row of every table, read after the requests' transactions (MariaDB)."""
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        for row in fresh(sa.select(table).order_by(*table.primary_key.columns)).all():
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def session_stamp(browser) -> tuple:
    """What the sign-in-ending or renewing routes change: whether signed in, and when last authenticated."""
    with browser.client.session_transaction() as session:
        return session.get("_user_id"), session.get("fs_paa")


@dataclass
class Attempt:
    endpoint: str
    method: str
    url: str
    role: str | None
    data: dict
    multipart: bool

    def send(self, browser, token: str | None):
        data = {
            key: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
            for key, value in self.data.items()
        }  # fmt: skip  (a file is read by each request)
        if token is not None:
            data["csrf_token"] = token
        kwargs = {"content_type": "multipart/form-data"} if self.multipart else {}
        return getattr(browser, self.method.lower())(self.url, data=data, **kwargs)


def prepare(app, rows, rule, method: str, browsers: dict) -> tuple[Attempt, Browserish]:
    """The forged request for `rule`, built by a browser signed in as a role that may use it."""
    forgery = FORGED.get(rule.endpoint)
    role = forgery.role if forgery else next(iter(allowed_roles(rule.endpoint)), "administrator")
    if role not in browsers:
        browsers[role] = Browserish(app.test_client())
        if role:
            browsers[role].login(f"{role}@example.com")
            browsers[role].csrf()  # the first page after signing in records when the user was last seen
    browser = browsers[role]
    url = build(rule, path_values(rule.endpoint, rows))
    data = forgery.form(browser, rows) if forgery else {}
    data.pop("csrf_token", None)
    query = forgery.query(rows) if forgery else {}
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return Attempt(rule.endpoint, method, url, role, data, bool(forgery and forgery.multipart)), browser


# Routes whose change needs a state no forged request here sets up, and where their flow is tested with its token;
# the sweep below still sends each one without a valid token and checks that nothing changes.
FLOW_STEPS = {
    **{f"security.{name}": "a step of a sign-in in progress or of setting up two-factor: tests/test_two_factor.py"
       for name in ("two_factor_setup", "two_factor_setup_validate", "two_factor_token_validation",
                    "two_factor_rescue", "tf_select", "mf_recovery", "mf_recovery_codes")},
    "comment.export_job_run_again": "needs a job whose worker died: tests/exports (the run again of a failed job)",
}  # fmt: skip


def test_every_state_changing_route_is_declared(app):
    routes = {rule.endpoint for rule in changing_rules(app)}
    undeclared = sorted(routes - FORGED.keys() - NO_EFFECT.keys() - FLOW_STEPS.keys())
    assert not undeclared, (
        f"State-changing routes with no forged request (FORGED), no reason they change nothing (NO_EFFECT) and no"
        f" flow tested elsewhere (FLOW_STEPS) in "
        f"tests/security/test_csrf.py: {undeclared}"
    )


def test_every_state_changing_route_refuses_a_request_without_a_valid_token(app, rows, outbox):
    browsers: dict = {}
    other_session = Browserish(app.test_client()).csrf()  # a valid token, of somebody else's session
    refused = []
    for rule in changing_rules(app):
        for method in sorted(rule.methods & CHANGING_METHODS):
            attempt, browser = prepare(app, rows, rule, method, browsers)
            before = (snapshot(), len(outbox), session_stamp(browser))
            for token, what in ((None, "no token"), ("", "an empty token"), (other_session, "another session's")):
                response = attempt.send(browser, token)
                if response.status_code != 400:
                    refused.append(f"{method} {attempt.url} as {attempt.role} with {what}: {response.status_code}")
            after = (snapshot(), len(outbox), session_stamp(browser))
            changed = [
                name for name, b, a in zip(("database", "mail", "session"), before, after, strict=True) if b != a
            ]
            if changed:
                refused.append(f"{method} {attempt.url} as {attempt.role} without a valid token changed {changed}")
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("endpoint", sorted(FORGED))
def test_the_forged_request_makes_its_change_when_it_carries_the_token(app, rows, outbox, endpoint):
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    attempt, browser = prepare(app, rows, rule, sorted(rule.methods & CHANGING_METHODS)[0], {})
    before = {"database": snapshot(), "mail": len(outbox), "session": session_stamp(browser)}
    response = attempt.send(browser, browser.csrf())
    assert response.status_code in (200, 302), (attempt.url, response.status_code)
    after = {"database": snapshot(), "mail": len(outbox), "session": session_stamp(browser)}
    effect = FORGED[endpoint].effect
    assert after[effect] != before[effect], f"{attempt.url} with its token changed no {effect}"
