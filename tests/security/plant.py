"""Payloads stored the way an attacker would store them: through the forms of the site and the console, each
request a browser could send, signed in as a role that may send it. Every function returns what was stored
(read back from the database, so a value the product normalised is what the pages are checked for)."""

from __future__ import annotations

import io
import re

import polib
import sqlalchemy as sa

from cms.models import BlockedWord, Comment, Media, Post, Role, User
from tests.images import png
from tests.support.catalogs import entry_form, entry_page
from tests.support.database import fresh
from tests.support.mail import link_in, sent_mail
from tests.support.web import PASSWORD, Browserish, page_errors


def _created(response, what: str) -> None:
    assert response.status_code == 302, f"{what}: {page_errors(response)}"


def newest(model, count: int) -> list:
    """The `count` rows of `model` created last, oldest first."""
    return list(reversed(fresh(sa.select(model).order_by(model.id.desc()).limit(count)).scalars().all()))


def posts(editor: Browserish, author: User, titles: list[str], bodies: list[str], translated: bool = True,
          authors: list[User] | None = None, images: list[Media] | None = None) -> list[Post]:  # fmt: skip
    """Published posts through the console's post form (title, rich-text body, a zh translation of both), by
    `author` or each by one of `authors`, each with one of `images` as its featured image."""
    form = editor.open_form("/admin/post/new/")
    for number, (title, body) in enumerate(zip(titles, bodies, strict=True)):
        data = {**form, "title": title, "body": body, "status": "published",
                "author": (authors[number] if authors else author).id}  # fmt: skip
        if images:
            data["featured_image"] = images[number].id
        if translated:
            data.update({"translations-0-locale": "zh", "translations-0-title": title, "translations-0-body": body})
        _created(editor.post("/admin/post/new/", data=data), f"post {title!r}")
    return newest(Post, len(titles))


def users(admin: Browserish, usernames: list[str], names: list[str], role: str = "Author") -> list[User]:
    """Accounts through the console's user form, each invitation accepted with PASSWORD: confirmed and able to
    sign in."""
    role_id = fresh(sa.select(Role.id).where(Role.name == role)).scalar_one()
    token = admin.token_for("/admin/user/new/")
    for number, (username, name) in enumerate(zip(usernames, names, strict=True)):
        data = {"email": f"hostile{number}@example.com", "username": username, "name": name, "active": "y",
                "roles": [role_id], "csrf_token": token}  # fmt: skip
        _created(admin.post("/admin/user/new/", data=data), f"user {username!r}")
    app = admin.client.application
    invitations = {mail["to"]: mail for mail in sent_mail(app)}
    for number in range(len(usernames)):
        invitee = Browserish(app.test_client())
        accepted = invitee.submit(link_in(invitations[f"hostile{number}@example.com"]),
                                  {"password": PASSWORD, "password_confirm": PASSWORD})  # fmt: skip
        _created(accepted, f"the invitation of user {usernames[number]!r}")
    return newest(User, len(usernames))


def renamed(people: list[User], usernames: list[str]) -> list[User]:
    """The accounts given `usernames` (lower case, as the console kept them) straight in the database: accounts made
    before the console refused characters an address cannot hold ("/", "?", "#", spaces), which pages must still
    show as text."""
    from cms.extensions import db

    for person, username in zip(people, usernames, strict=True):
        db.session.execute(sa.update(User).where(User.id == person.id).values(username=username.lower()))
    db.session.commit()
    return list(fresh(sa.select(User).where(User.id.in_([p.id for p in people])).order_by(User.id)).scalars())


def comments(reader: Browserish, post: Post, bodies: list[str]) -> list[Comment]:
    """Comments through the public comment form on `post`, each with a word readers see after the payload (a comment
    that would show nothing, such as a bare <script>, is refused as empty)."""
    token = reader.token_for(f"/en/posts/{post.slug}")
    for body in bodies:
        data = {"csrf_token": token, "body": f"{body} seen"}
        response = reader.post(f"/en/posts/{post.slug}/comments", data=data)
        _created(response, f"comment {body!r}")
    return newest(Comment, len(bodies))


def approve_all(moderator: Browserish) -> None:
    """The moderator approves every comment in the queue (check all, "select all matching", Approve)."""
    token = moderator.token_for("/admin/comment/")
    response = moderator.post(
        "/admin/comment/action/", data={"csrf_token": token, "action": "approve", "select_all": "1", "rowid": "0"}
    )
    _created(response, "approve")


def blocked_words(moderator: Browserish, words: list[str]) -> list[BlockedWord]:
    token = moderator.token_for("/admin/blockedword/new/")
    for word in words:
        response = moderator.post("/admin/blockedword/new/", data={"csrf_token": token, "word": word})
        _created(response, f"blocked word {word!r}")
    return newest(BlockedWord, len(words))


def media(writer: Browserish, names: list[str]) -> list[Media]:
    """Images uploaded through the media library under the given file names. A name the multipart encoding
    cannot carry whole (a quote ends it) loses its extension or all of it and is refused with a form error: those are left
    out, the rest are returned."""
    token = writer.token_for("/admin/media/new/")
    stored = 0
    for name in names:
        response = writer.post(
            "/admin/media/new/",
            data={"csrf_token": token, "file": (io.BytesIO(png()), name)},
            content_type="multipart/form-data",
        )
        if response.status_code == 302:
            stored += 1
        else:
            assert response.status_code == 200, f"media {name!r}: {response.status_code}"  # the form, with its error
    return newest(Media, stored)


def catalog_entry(translator: Browserish, locale: str, msgid: str, text: str):
    """A translator saves `text` as the translation of `msgid` in the workspace; the response (302 when saved,
    400 with the reasons when refused)."""
    page = entry_page(translator, locale, msgid)
    return translator.post(f"/admin/translations/{locale}/save", data={**entry_form(page, msgid), "form_0": text})


def po_upload(translator: Browserish, locale: str, texts: dict[str, str]):
    """A translator downloads the catalog, sets the translations of `texts` (msgid → text) and uploads it; the
    preview's response and the token that applies it (None when the preview refuses the file)."""
    catalog = polib.pofile(translator.get(f"/admin/translations/{locale}/download").get_data(as_text=True))
    for entry in catalog:
        if entry.msgid in texts:
            entry.msgstr = texts[entry.msgid]
    token = translator.token_for(f"/admin/translations/{locale}/")
    response = translator.post(
        f"/admin/translations/{locale}/upload",
        data={"csrf_token": token, "file": (io.BytesIO(str(catalog).encode()), f"{locale}.po")},
        content_type="multipart/form-data",
    )
    found = re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True))
    return response, found.group(1) if found else None


def apply_upload(translator: Browserish, locale: str, token: str) -> None:
    response = translator.post(
        f"/admin/translations/{locale}/upload/apply", data={"token": token, "csrf_token": translator.csrf()}
    )
    _created(response, "apply the upload")
