"""The base of every error a service raises when one of its rules refuses; its message is for the user. And the
one test of "nothing written" that every required text field shares."""

import unicodedata


class DomainError(ValueError):
    """A change the rules refuse. `str(exc)` is the (translated) message to show: a form error in the console,
    a flash, a 400 in the API, a ClickException in the CLI."""


def is_blank(text: str | None) -> bool:
    """Whether `text` holds nothing a reader would see: empty, or only white space (the ideographic space too) and
    invisible format characters such as zero-width spaces. A form's InputRequired lets such text through, so the
    services refuse it where text is required."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text or "")


def has_control_characters(text: str | None, white_space_allowed: bool = False) -> bool:
    """Whether `text` holds a control character (U+0000-U+001F, U+007F-U+009F: a NUL, a tab, a newline, an
    escape) or Unicode's line and paragraph separators (U+2028, U+2029): a one-line text (a name) shows them as
    nothing or breaks there, and XML (the feeds, the sitemap) cannot hold most of them. With `white_space_allowed`
    (a title, kept as typed), only those that are not white space (a NUL, an escape, a bell)."""
    return any(
        unicodedata.category(char) in ("Cc", "Zl", "Zp") and not (white_space_allowed and char.isspace())
        for char in text or ""
    )


def folded(text: str) -> str:
    """Text as blocked words are compared with it: compatibility forms folded (ＳＰＡＭ, a decomposed é), invisible
    format characters dropped (via\u200bgra, a soft hyphen), in lower case."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(char for char in text if unicodedata.category(char) != "Cf").casefold()
