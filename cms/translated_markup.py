"""Translated text in templates as safe HTML: the original's markup, the translation's text escaped.

Jinja's new-style gettext (what Flask-Babel installs) marks every translation as safe HTML, so a translator
could put script or attributes on every page of a language, and a stray `%` made whole pages fail. Here a
translation is only ever text placed into its msgid's own markup: its tags must be exactly the msgid's
(cms.translation_checks.markup_of), everything else is escaped, and an entry that does not fit or format
falls back to the msgid, logged, instead of failing the page.
"""

from __future__ import annotations

import functools
import logging

from flask import Flask
from flask_babel import get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from markupsafe import Markup, escape

from cms.translation_checks import tokens

log = logging.getLogger(__name__)


# Parsed translations remembered per process: a page asks for the same few hundred strings on every request.
SAFE_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=SAFE_CACHE_SIZE)
def safe_translation(msgid: str, msgstr: str) -> Markup:
    """`msgstr` as HTML: its text escaped, its tags those of `msgid` as the developer wrote them; the msgid
    itself when the markup differs (the msgid is the developers' own, trusted HTML)."""
    if msgstr == msgid:
        return Markup(msgid)  # noqa: S704 (a msgid is written by the developers)  # nosec B704
    original = [token for token in tokens(msgid) if token.markup]
    translated = tokens(msgstr)
    if [token.key for token in translated if token.markup] != [token.key for token in original]:
        log.warning("Translation of %r ignored: its markup is not the original's", msgid)
        return Markup(msgid)  # noqa: S704  # nosec B704
    tags = iter(original)
    return Markup("").join(Markup(next(tags).raw) if token.markup else escape(token.raw) for token in translated)  # noqa: S704  # nosec B704


def render(msgid: str, msgstr: str, variables: dict, autoescape: bool) -> str:
    """The translation with its variables, or the msgid's when the translation cannot take them."""
    text: str = safe_translation(msgid, msgstr) if autoescape else msgstr
    try:
        return text % variables
    except (KeyError, ValueError, TypeError, IndexError):
        log.warning("Translation of %r ignored: it does not format with %s", msgid, sorted(variables))
        original: str = Markup(msgid) if autoescape else msgid  # noqa: S704  # nosec B704
        return original % variables


@pass_context
def gettext(__context, __string: str, **variables) -> str:
    msgstr = get_translations().ugettext(__string)
    return render(__string, msgstr, variables, __context.eval_ctx.autoescape)


@pass_context
def ngettext(__context, __singular: str, __plural: str, __num: int, **variables) -> str:
    variables.setdefault("num", __num)
    msgstr = get_translations().ungettext(__singular, __plural, __num)
    return render(__singular if __num == 1 else __plural, msgstr, variables, __context.eval_ctx.autoescape)


@pass_context
def pgettext(__context, __msgctxt: str, __string: str, **variables) -> str:
    msgstr = get_translations().upgettext(__msgctxt, __string)
    return render(__string, msgstr, variables, __context.eval_ctx.autoescape)


@pass_context
def npgettext(__context, __msgctxt: str, __singular: str, __plural: str, __num: int, **variables) -> str:
    variables.setdefault("num", __num)
    msgstr = get_translations().unpgettext(__msgctxt, __singular, __plural, __num)
    return render(__singular if __num == 1 else __plural, msgstr, variables, __context.eval_ctx.autoescape)


def lazy_html(lazy: LazyString) -> Markup:
    """A lazy translation (lazy_gettext: form labels, console menus, column names) placed into HTML: its text,
    escaped. Flask-Babel's LazyString hands Jinja and Markup the msgstr as it is, so a translator's "Posts" of
    `帖子<img src=x onerror=…//` (text to the markup check: the tag is never closed) became a tag in the menu."""
    return escape(str(lazy))


def init_app(app: Flask) -> None:
    """Replace the gettext functions Flask-Babel gave Jinja (after Babel's init_app), and make lazy translations
    escape themselves wherever they are rendered (templates, Markup.format, WTForms labels)."""
    app.jinja_env.globals.update(gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext)
    LazyString.__html__ = lazy_html  # type: ignore[method-assign]
