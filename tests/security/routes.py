"""Every route of the app's URL map as a request a browser could send: its URL filled with real rows, its query
string and, for routes that only take POST, a form. Shared by the CSRF and authorisation tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.routing import Rule

CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Flask-Admin model views and the row each one's ?id= names (a `Rows` attribute or a callable of it).
VIEW_ROWS = {
    "post": lambda rows: rows.draft.id,
    "comment": lambda rows: rows.comment_id,
    "user": lambda rows: rows.spare.id,
    "role": lambda rows: rows.role.id,
    "follow": lambda rows: rows.follow,
    "media": lambda rows: rows.media.id,
    "audit": lambda rows: rows.audit_id,
    "outbox": lambda rows: rows.mail_id,
    "blockedword": lambda rows: rows.blocked_word_id,
}


@dataclass
class Request:
    endpoint: str
    method: str
    url: str
    query: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.endpoint})"


def path_values(endpoint: str, rows) -> dict:
    """Values for the variables of an endpoint's rule: rows that exist."""
    values = {
        "locale": "zh" if endpoint.startswith("translations.") else "en",
        "slug": rows.published.slug,
        # The editor wrote the live post; the reader follows the author (rows), whom unfollowing names.
        "username": "author" if endpoint == "public.unfollow_author" else rows.published.author.username,
        "post_id": rows.published.id,
        "export_type": "csv",
        "job_id": rows.job.id,
        "kind": "csv",
        "token": {"security.confirm_email": rows.confirm_token, "site.accept_invitation": rows.invitation_token}.get(
            endpoint, rows.reset_token
        ),
        "filename": {
            "static": "site.css",
            "admin.static": "admin/js/helpers.js",
            "security.static": "js/base64.js",
        }.get(endpoint, rows.media.file_name),
    }
    return values


def query_for(endpoint: str, rows) -> dict:
    """The query string a page of this endpoint is opened with (Flask-Admin's ?id=, the diff's revisions…)."""
    view, _, name = endpoint.partition(".")
    if name in ("edit_view", "details_view", "revisions_view") and view in VIEW_ROWS:
        return {"id": VIEW_ROWS[view](rows)}
    if endpoint == "post.diff_view":
        return {"id": rows.draft.id, "a": rows.revisions[0], "b": rows.revisions[1]}
    if name == "ajax_lookup":
        return {"name": "author" if view == "post" else "x", "query": "e"}
    return {}


def form_for(endpoint: str, rows) -> dict:
    """What a route that only takes POST is sent: enough to pass its permission check and change nothing
    (no action named, no row id, an empty upload) or to change something harmless (a follow)."""
    if endpoint == "post.preview_view":
        return {"body": "*preview*"}
    if endpoint == "post.restore_view":
        return {"id": rows.draft.id, "revision": 0}
    return {}


def requests_for(app, rows) -> list[Request]:
    """One request per rule: a GET where the rule takes GET, else a POST; every URL filled with real rows."""
    made = []
    for rule in app.url_map.iter_rules():
        method = "GET" if "GET" in rule.methods else sorted(rule.methods & CHANGING_METHODS)[0]
        made.append(
            Request(
                endpoint=rule.endpoint,
                method=method,
                url=build(rule, path_values(rule.endpoint, rows)),
                query=query_for(rule.endpoint, rows) if method == "GET" else {},
                form=form_for(rule.endpoint, rows) if method != "GET" else {},
            )
        )
    return made


def build(rule: Rule, values: dict) -> str:
    return rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]


def changing_rules(app) -> list[Rule]:
    """The rules that accept a state-changing method, in a stable order."""
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.methods & CHANGING_METHODS),
        key=lambda rule: (rule.rule, rule.endpoint),
    )
