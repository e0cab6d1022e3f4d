"""Checks on one translation against its original: placeholders, markup, formatting, white space at the edges.

Pure functions over strings and polib entries: no files, no app. The catalog editor, uploads and tests all
ask these, so a rule is written once.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

import polib
from babel.messages.catalog import Message
from babel.messages.checkers import PYTHON_FORMAT, TranslationError, python_format

from cms.domain import is_blank

# The widest a placeholder may pad its value (%80s): what a developer writes is a column of a few dozen characters.
FORMAT_WIDTH_LIMIT = 1000
PLACEHOLDER = re.compile(
    r"%%|%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{\w*\}"
)


def placeholders(text: str) -> Counter:
    """The formatting placeholders of a message (an escaped %% is text, not a placeholder)."""
    return Counter(match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(0) != "%%")


@dataclass(frozen=True)
class Token:
    """A piece of a message as an HTML parser reads it: `markup` (a tag, comment or declaration, with its
    normalised form in `key` and its text as written in `raw`) or text (entities already decoded)."""

    markup: bool
    key: tuple
    raw: str


class _Tokenizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tokens: list[Token] = []

    def _markup(self, key: tuple, raw: str) -> None:
        self.tokens.append(Token(True, key, raw))

    def handle_starttag(self, tag, attrs):
        self._markup(("start", tag, tuple(attrs)), self.get_starttag_text() or "")

    def handle_startendtag(self, tag, attrs):
        self._markup(("startend", tag, tuple(attrs)), self.get_starttag_text() or "")

    def handle_endtag(self, tag):
        self._markup(("end", tag), f"</{tag}>")

    def handle_comment(self, data):
        self._markup(("comment", data), f"<!--{data}-->")

    def handle_decl(self, decl):
        self._markup(("decl", decl), f"<!{decl}>")

    def handle_pi(self, data):
        self._markup(("pi", data), f"<?{data}>")

    def unknown_decl(self, data):
        self._markup(("decl", data), f"<![{data}]>")

    def handle_data(self, data):
        self.tokens.append(Token(False, (), data))


def tokens(text: str) -> list[Token]:
    """The message split into markup and text by an HTML parser (never by a regular expression). A text the parser
    cannot read (`<![x[`: Python's parser asserts on a marked section it does not know) is one piece of markup that
    no original has, so a translation holding it is refused and never shown."""
    tokenizer = _Tokenizer()
    try:
        tokenizer.feed(text)
        tokenizer.close()
    except AssertionError:
        return [Token(True, ("unreadable", text), text)]
    return tokenizer.tokens


def markup_of(text: str) -> list[tuple]:
    """The message's markup in order: each tag with its attributes and their values, comments, declarations."""
    return [token.key for token in tokens(text) if token.markup]


def markup_errors(translation: str, sources: tuple[str, ...]) -> list[str]:
    """A translation's markup must be exactly an original's: the same tags, attributes and values, in order.
    Anything else a translator types is text, and is shown as text (cms.translated_markup escapes it)."""
    if markup_of(translation) in [markup_of(source) for source in sources]:
        return []
    return ["the HTML markup must be exactly the original's: the same tags with the same attributes, in order"]


def format_errors(translation: str, sources: tuple[str, ...]) -> list[str]:
    """A translation must format with its original's arguments, as the page will: Babel's python-format check,
    then a trial formatting (a stray % fails here, not on every reader's page)."""
    for source in sources:
        message = Message(source, translation, flags={"python-format"} if PYTHON_FORMAT.search(source) else ())
        try:
            python_format(None, message)
            too_wide = _too_wide(translation)
            if too_wide:
                raise ValueError(f"a width or precision of at most {FORMAT_WIDTH_LIMIT} ({too_wide})")
            translation % _sample_arguments(source)
        except (TranslationError, ValueError, TypeError, KeyError) as exc:
            error = exc
            continue
        return []
    return [f"the text cannot be formatted like the original: {error}"]


def _too_wide(text: str) -> str:
    """The first placeholder whose width or precision is past FORMAT_WIDTH_LIMIT: formatting `%999999999999s` asks
    for memory the process does not have (a MemoryError), and one of a billion for a gigabyte."""
    for match in PLACEHOLDER.finditer(text):
        spec = re.sub(r"^%\(\w+\)", "%", match.group(0))  # the digits of a name are not a width
        if spec.startswith("%") and any(int(number) > FORMAT_WIDTH_LIMIT for number in re.findall(r"\d+", spec)):
            return match.group(0)
    return ""


def _sample_arguments(source: str):
    """Arguments of the kind the original's placeholders take: a mapping for %(name)s, a tuple for %s."""
    found = [
        match for match in PLACEHOLDER.finditer(source) if match.group(0).startswith("%") and match.group(0) != "%%"
    ]
    if any(match.group(1) for match in found):
        return {match.group(1): 1 for match in found if match.group(1)}
    if found:
        return tuple(1 for _ in found)
    return {}


def edges(text: str) -> tuple[str, str]:
    """The white space a text starts and ends with."""
    lead = re.match(r"\s*", text).group(0)  # type: ignore[union-attr]
    trail = re.search(r"\s*$", text).group(0)  # type: ignore[union-attr]
    return lead, trail


def unshowable(text: str) -> list[str]:
    """The characters of a text that a page cannot show and XML (the feeds) cannot hold, as U+XXXX: control
    characters but the tab and the line break, Unicode's line and paragraph separators, lone surrogates and
    noncharacters (U+FFFE). A .po file also breaks its lines at some of them, so a catalog downloaded and uploaded
    again read a translation holding one as another text."""
    found = dict.fromkeys(
        char
        for char in text
        if (unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") and char not in "\t\n")
        or 0xFDD0 <= ord(char) <= 0xFDEF
        or ord(char) & 0xFFFE == 0xFFFE
    )
    return [f"U+{ord(char):04X}" for char in found]


def validate_translation(source: str, translation: str, alternatives: tuple[str, ...] = ()) -> list[str]:
    """Problems with one translated form: characters no page shows, placeholders, HTML tags, leading/trailing
    white space.

    `alternatives` are other source texts the form may follow instead (msgid_plural for plural forms).
    """
    if not translation:
        return []
    sources = (source, *alternatives)
    if is_blank(translation) and not all(is_blank(s) for s in sources):
        return ["a translation cannot be only white space: leave it empty to show the original"]
    errors = []
    in_sources = {code for s in sources for code in unshowable(s)}
    hidden = [code for code in unshowable(translation) if code not in in_sources]
    if hidden:
        errors.append(f"characters a page cannot show must go: {', '.join(hidden)}")
    wanted = [placeholders(s) for s in sources]
    found = placeholders(translation)
    if found not in wanted:
        expected = ", ".join(sorted(wanted[0])) or "none"
        errors.append(f"placeholders must match the original ({expected}); found {', '.join(sorted(found)) or 'none'}")
    errors += markup_errors(translation, sources)
    errors += format_errors(translation, sources)
    lead, trail = edges(translation)
    if (lead, trail) not in [edges(s) for s in sources]:
        errors.append("white space and line breaks at the start and end must be as in the original")
    return errors


def entry_errors(entry: polib.POEntry) -> list[str]:
    """Problems with every translated form of a catalog entry; plural forms may follow either original."""
    errors = validate_translation(entry.msgid, entry.msgstr)
    for index, form in sorted(entry.msgstr_plural.items()):
        errors += [f"form {index}: {e}" for e in validate_translation(entry.msgid, form, (entry.msgid_plural,))]
    return errors
