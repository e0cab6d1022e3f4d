"""Checks on one translation against its original: placeholders, HTML tags, white space at the edges.

Pure functions over strings and polib entries: no files, no app. The catalog editor, uploads and tests all
ask these, so a rule is written once.
"""

from __future__ import annotations

import re
from collections import Counter

import polib

PLACEHOLDER = re.compile(
    r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{\w*\}"
)
TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*?(/?)>")
VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "wbr"}


def placeholders(text: str) -> Counter:
    return Counter(match.group(0) for match in PLACEHOLDER.finditer(text))


def tags(text: str) -> list[tuple[str, str]]:
    return [(close, name.lower()) for close, name, selfclose in TAG.findall(text) if not selfclose]


def tag_errors(text: str) -> list[str]:
    stack: list[str] = []
    for close, name in tags(text):
        if name in VOID_TAGS:
            continue
        if not close:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return [f"the HTML tag </{name}> does not close an open tag"]
    return [f"the HTML tag <{name}> is never closed" for name in stack]


def edges(text: str) -> tuple[str, str]:
    """The white space a text starts and ends with."""
    lead = re.match(r"\s*", text).group(0)  # type: ignore[union-attr]
    trail = re.search(r"\s*$", text).group(0)  # type: ignore[union-attr]
    return lead, trail


def validate_translation(source: str, translation: str, alternatives: tuple[str, ...] = ()) -> list[str]:
    """Problems with one translated form: placeholders, HTML tags, leading/trailing white space.

    `alternatives` are other source texts the form may follow instead (msgid_plural for plural forms).
    """
    if not translation:
        return []
    errors = []
    sources = (source, *alternatives)
    wanted = [placeholders(s) for s in sources]
    found = placeholders(translation)
    if found not in wanted:
        expected = ", ".join(sorted(wanted[0])) or "none"
        errors.append(f"placeholders must match the original ({expected}); found {', '.join(sorted(found)) or 'none'}")
    errors += tag_errors(translation)
    if not errors and sorted(n for c, n in tags(translation)) not in [sorted(n for c, n in tags(s)) for s in sources]:
        errors.append("the HTML tags must be the same as in the original")
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
