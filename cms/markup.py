"""The one Markdown-to-safe-HTML pipeline, used by posts, translations and comments."""

import re

import markdown
import nh3
from flask_babel import lazy_gettext as _l
from markdown.extensions import Extension
from markdown.inlinepatterns import LinkInlineProcessor
from markupsafe import Markup

from cms.domain import DomainError

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

COMMENT_TAGS = {"a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "strong", "ul"}
# A comment's code keeps no class: the site's own classes (flash flash-error) made a reader's words look like the
# site's messages.
COMMENT_ATTRIBUTES = {"a": {"href", "title"}}


def sanitise_html(
    html: str, tags: set[str] = ALLOWED_TAGS, attributes: dict[str, set[str]] = ALLOWED_ATTRIBUTES
) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; links get rel=nofollow noopener."""
    return nh3.clean(
        html,
        tags=tags,
        attributes={tag: attrs for tag, attrs in attributes.items() if tag in tags},
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
    )


class MarkupError(DomainError):
    """Text the Markdown formatter cannot format; the message says why."""


# How deep a link's text may nest brackets ([a [b] c](url) is 2), and its target parentheses ((url(a)) is 2).
# Python-Markdown looks for the closing bracket of every [, and the closing parenthesis of every ](, to the end of
# the text: 5,000 [ in a comment took 3.6 s of a worker, and 1,250 "[a](" 0.38 s. Past this depth it stays text.
LINK_NESTING_LIMIT = 8
_PARENTHESES = re.compile(r"[()]")


class _BoundedLinkText:
    """A link processor whose searches for the link text's closing bracket and for its target's closing
    parenthesis stop past LINK_NESTING_LIMIT."""

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:  # noqa: N802  (Python-Markdown's name)
        depth = 1
        for pos in range(index, len(data)):
            char = data[pos]
            if char == "]":
                depth -= 1
                if not depth:
                    return data[index:pos], pos + 1, True
            elif char == "[":
                depth += 1
                if depth > LINK_NESTING_LIMIT:
                    break
        return "", index, False

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:  # noqa: N802  (Python-Markdown's)
        """Python-Markdown's reading of the target from the ( at `index`, unless its parentheses nest past the limit
        before they close (quotes aside: a title holding that many is no link a writer means). Each "[a](" of a
        run opens one more, so no run of them is read to its end again at every one."""
        depth = 0
        for parenthesis in _PARENTHESES.finditer(data, index):
            depth += 1 if parenthesis.group() == "(" else -1
            if not depth:
                break
            if depth > LINK_NESTING_LIMIT:
                return "", None, index, False
        return super().getLink(data, index)  # type: ignore[misc]


_BOUNDED: dict[type, type] = {}


class BoundedLinks(Extension):
    """Every link and image processor (inline and reference) gets the bounded search of its text."""

    def extendMarkdown(self, md) -> None:  # noqa: N802  (Python-Markdown's name)
        for processor in md.inlinePatterns:
            if isinstance(processor, LinkInlineProcessor):
                kind = type(processor)
                if kind not in _BOUNDED:
                    _BOUNDED[kind] = type(f"Bounded{kind.__name__}", (_BoundedLinkText, kind), {})
                processor.__class__ = _BOUNDED[kind]


def render_markdown(
    text: str, tags: set[str] = ALLOWED_TAGS, attributes: dict[str, set[str]] = ALLOWED_ATTRIBUTES
) -> str:
    """Markdown to sanitised HTML. Raw HTML in the source goes through the same allow-list."""
    try:
        html = markdown.markdown(text or "", extensions=["extra", "sane_lists", BoundedLinks()], output_format="html")
    except RecursionError:  # lists or blocks nested some hundreds deep ("- " * 1000): Python-Markdown recurses
        raise MarkupError(_l("The text nests lists, quotes or blocks too deeply to be formatted.")) from None
    return sanitise_html(html, tags, attributes)


def render_comment(text: str) -> str:
    return render_markdown(text, COMMENT_TAGS, COMMENT_ATTRIBUTES)


def stored_html(html: str | None) -> Markup:
    """HTML read back from a *_html column, which only ever holds this module's sanitised output."""
    return Markup(html or "")  # noqa: S704  # nosec B704
