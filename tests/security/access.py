"""Who may use which route: the declared table the authorisation matrix compares every route of the URL map
against, for anonymous visitors and each default role. A route of the URL map that is not here fails the matrix.

An outcome is a status and, for redirects, where to. `LOGIN` is the login page with the route as `next`;
`FORBIDDEN` (403) is a signed-in role without the permission; `HIDDEN` (404) is what a role that may use a
view gets where the view does not offer the endpoint (or the row it names is not one it may see)."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = [None, "reader", "author", "editor", "moderator", "translator", "administrator"]
SIGNED_IN = set(ROLES) - {None}
WRITERS = {"author", "editor", "administrator"}
MODERATORS = {"moderator", "administrator"}
TRANSLATORS = {"translator", "administrator"}
ADMINS = {"administrator"}
STAFF = WRITERS | MODERATORS | TRANSLATORS


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str | None = None  # a redirect's target starts with this; "login" for the login page

    def __str__(self) -> str:
        return f"{self.status}{f' → {self.location}' if self.location else ''}"


OK = Outcome(200)
LOGIN = Outcome(302, "login")
FORBIDDEN = Outcome(403)
HIDDEN = Outcome(404)
BAD_REQUEST = Outcome(400)  # allowed through, but the request (no action named, no form) is incomplete
HOME = Outcome(302, "/")  # Flask-Security's pages for visitors, opened by someone signed in


def to(location: str, status: int = 302) -> Outcome:
    return Outcome(status, location)


def everyone(outcome: Outcome = OK) -> dict:
    return dict.fromkeys(ROLES, outcome)


def signed_in(outcome: Outcome = OK, anonymous: Outcome = LOGIN) -> dict:
    return {None: anonymous, **dict.fromkeys(SIGNED_IN, outcome)}


def visitors(outcome: Outcome = OK, signed_in: Outcome = HOME) -> dict:
    return {None: outcome, **dict.fromkeys(SIGNED_IN, signed_in)}


def only(roles: set, outcome: Outcome = OK) -> dict:
    """A console page: the roles that hold its permission get `outcome`, other roles 403, visitors the login."""
    return {role: LOGIN if role is None else outcome if role in roles else FORBIDDEN for role in ROLES}


def model_view(view: str, roles: set, **outcomes: Outcome) -> dict:
    """A Flask-Admin model view's endpoints for the roles that may open it: the list, forms, export and details
    open (200), a delete without a row id returns to the list, an action without a name is a 400, and the
    look-up and inline-edit endpoints answer 404 (no relation to look up, no column editable in the list).
    `outcomes` overrides an endpoint (HIDDEN for what the view does not offer)."""
    allowed = {
        "index_view": OK, "create_view": OK, "edit_view": OK, "details_view": OK, "export": OK,
        "delete_view": to(f"/admin/{view}/"), "action_view": BAD_REQUEST, "ajax_lookup": HIDDEN,
        "ajax_update": HIDDEN, **outcomes,
    }  # fmt: skip
    return {f"{view}.{endpoint}": only(roles, outcome) for endpoint, outcome in allowed.items()}


NOT_OFFERED = {"create_view": HIDDEN, "edit_view": HIDDEN, "delete_view": HIDDEN}

TABLE: dict[str, dict] = {
    # The public site and its files.
    "site.front_door": everyone(to("/en/")),
    "site.legacy_post": everyone(to("/en/posts/", 302)),
    "site.media_file": everyone(),
    "site.sitemap": everyone(),
    "static": everyone(),
    "public.index": everyone(),
    "public.post": everyone(),
    "public.author": everyone(),
    "public.followers": everyone(),
    "public.following": everyone(),
    "public.atom_feed": everyone(),
    "public.following_posts": signed_in(),
    "public.profile": signed_in(),
    "public.comment": signed_in(BAD_REQUEST),  # everyone signed in may comment; an empty comment is refused
    "public.follow_author": signed_in(to("/en/authors/")),
    "public.unfollow_author": signed_in(to("/en/authors/")),
    "api.posts": everyone(),
    "api.post": everyone(),
    "api.post_comments": everyone(),
    # Flask-Security's pages.
    "security.static": everyone(),
    "security.login": visitors(),
    "security.register": visitors(),
    "security.forgot_password": everyone(),  # also for the signed-in who forgot theirs (Flask-Security's choice)
    "security.reset_password": everyone(),  # the token in the link is the authority
    "security.send_confirmation": everyone(),
    "security.confirm_email": everyone(to("/login")),  # the token confirms its account, which then signs in
    "security.change_password": signed_in(),
    "security.verify": signed_in(),
    # Two-factor sign-in (Flask-Security's): setting it up and the recovery codes are for the signed-in; the code
    # steps belong to a sign-in in progress.
    "security.two_factor_setup": signed_in(anonymous=to("/login")),
    "security.two_factor_setup_validate": signed_in(to("/tf-setup")),  # no setup begun: back to its start
    "security.two_factor_token_validation": everyone(to("/login")),  # no sign-in in progress: back to sign in
    "security.tf_select": everyone(to("/login")),
    "security.two_factor_rescue": {None: to("/login"), **dict.fromkeys(SIGNED_IN, to("/"))},
    "security.mf_recovery": {None: to("/login"), **dict.fromkeys(SIGNED_IN, to("/"))},
    "security.mf_recovery_codes": signed_in(),
    "security.logout": everyone(to("/")),
    "site.accept_invitation": everyone(),  # the token in the link is the authority
    # The staff console.
    "admin.index": only(STAFF),
    "admin.static": everyone(),
    **model_view("post", WRITERS, ajax_lookup=OK),
    "post.preview_view": only(WRITERS),
    "post.restore_view": only(WRITERS, HIDDEN),  # allowed through; revision 0 is not one of the post's
    "post.revisions_view": only(WRITERS),
    "post.diff_view": only(WRITERS),
    "calendar.index": only(WRITERS),  # editors see every post, authors their own
    **model_view("media", WRITERS, edit_view=HIDDEN),
    "media.picker_view": only(WRITERS),
    **model_view("comment", MODERATORS, create_view=HIDDEN),
    "comment.export_job_view": only(MODERATORS),  # the moderator's own job; administrators may open any
    "comment.export_job_status": only(MODERATORS),
    "comment.export_job_download": only(MODERATORS, Outcome(409)),  # still queued: not ready
    "comment.export_jobs_view": only(MODERATORS),
    "comment.export_job_run_again": only(MODERATORS, Outcome(409)),  # the job has not failed: nothing to run again
    **model_view("blockedword", MODERATORS, details_view=HIDDEN),
    **model_view("user", ADMINS),
    **model_view("role", ADMINS),
    **model_view("follow", ADMINS, details_view=HIDDEN, **NOT_OFFERED),
    **model_view("audit", ADMINS, **NOT_OFFERED),
    **model_view("outbox", ADMINS, export=HIDDEN, **NOT_OFFERED),
    "userimport.index": only(ADMINS),
    "userimport.template": only(ADMINS),
    "userimport.apply_view": only(ADMINS, to("/admin/user-import/")),  # no previewed file: back to the form
    "translations.index": only(TRANSLATORS),
    "translations.catalog": only(TRANSLATORS),
    "translations.download": only(TRANSLATORS),
    "translations.content": only(TRANSLATORS),
    "translations.post_workspace": only(TRANSLATORS),  # the published post's translation into zh
    "translations.save": only(TRANSLATORS, BAD_REQUEST),
    "translations.upload": only(TRANSLATORS, BAD_REQUEST),
    "translations.apply_upload": only(TRANSLATORS, to("/admin/translations/zh/")),  # no token: back, with a flash
    "translations.add": {**only(TRANSLATORS, FORBIDDEN), "administrator": to("/admin/translations/")},
}

# Where one role's outcome differs from its group's, with the reason.
EXCEPTIONS = {
    ("post.ajax_lookup", "author"): FORBIDDEN,  # authors may not change a post's author, so not look authors up
    ("public.follow_author", "editor"): BAD_REQUEST,  # the route names the editor: nobody follows themselves
}


def expected(endpoint: str, role: str | None) -> Outcome:
    return EXCEPTIONS.get((endpoint, role)) or TABLE[endpoint][role]


def allowed_roles(endpoint: str) -> list[str | None]:
    """The roles the table lets through to `endpoint` (not sent to the login page, not refused, not hidden)."""
    refused = {LOGIN, FORBIDDEN}
    return [role for role in ROLES if endpoint in TABLE and expected(endpoint, role) not in refused]
