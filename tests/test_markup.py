"""The one sanitiser, against XSS vectors: nothing executable survives, in posts or comments."""

import re
from html.parser import HTMLParser

import pytest
from markdown.inlinepatterns import LinkInlineProcessor
from markupsafe import escape

from cms import markup
from cms.markup import render_comment, render_markdown, sanitise_html

VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<iframe src="https://evil.example"></iframe>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p onmouseover="alert(1)">hover</p>',
    "<b><i>unclosed <script>alert(1)</b></i>",
    "<<script>alert(1)//<</script>",
    '<form action="https://evil.example"><input name="password"></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "<style>body{display:none}</style>",
    '<a href="vbscript:msgbox(1)">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><img src=x onerror=alert(1)>',
]
SAFE_TAGS = {"a", "b", "blockquote", "br", "code", "em", "h1", "i", "img", "li", "ol", "p", "pre", "strong", "ul",
             "table", "tbody", "td", "th", "thead", "tr"}  # fmt: skip
SAFE_SCHEMES = {"http", "https", "mailto"}


class ElementCollector(HTMLParser):
    """Every element and attribute a browser would build from the HTML (text, escaped or not, is inert)."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize("render", [render_markdown, render_comment, sanitise_html], ids=["post", "comment", "html"])
@pytest.mark.parametrize("vector", VECTORS)
def test_nothing_executable_survives(render, vector):
    parser = ElementCollector()
    parser.feed(render(vector))
    for tag, attrs in parser.elements:
        assert tag in SAFE_TAGS, f"<{tag}> survived"
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style", f"{name}= survived on <{tag}>"
            scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value or "")
            if name in ("href", "src") and scheme:
                assert scheme.group(1).lower() in SAFE_SCHEMES, f"{name}={value!r} survived"


def test_links_get_nofollow_noopener():
    assert render_markdown("[site](https://example.com)") == (
        '<p><a href="https://example.com" rel="nofollow noopener">site</a></p>'
    )


def test_markdown_formatting_survives():
    html = render_markdown("# Title\n\n**bold** and *it*\n\n- one\n- two\n\n`code`")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<li>one</li>" in html
    assert "<code>code</code>" in html


def test_comments_allow_fewer_tags_than_posts():
    assert "<h1>" not in render_comment("# Big")
    assert "<img" not in render_comment("![x](https://example.com/x.png)")
    assert "<img" in render_markdown("![x](https://example.com/x.png)")


def test_a_comment_cannot_borrow_the_sites_classes():
    """Code kept its class: a reader's words in the site's own message style (flash flash-error)."""
    spoof = '<code class="flash flash-error">Your comment was removed by a moderator.</code>'
    assert render_comment(spoof) == "<p><code>Your comment was removed by a moderator.</code></p>"
    assert 'class="language-python"' not in render_comment("```python\nx = 1\n```")
    assert 'class="language-python"' in render_markdown("```python\nx = 1\n```")  # posts keep theirs


def test_chinese_and_emoji_pass_through():
    assert render_markdown("你好 🌏") == "<p>你好 🌏</p>"


@pytest.mark.parametrize("depth, linked", [(3, True), (4, False)])
def test_a_links_text_may_nest_brackets_to_link_nesting_limit(monkeypatch, depth, linked):
    monkeypatch.setattr(markup, "LINK_NESTING_LIMIT", 3)
    source = "[" * depth + "text" + "]" * depth + "(https://example.com)"
    assert ('href="https://example.com"' in render_markdown(source)) is linked
    assert ('href="https://example.com"' in render_comment(source)) is linked


@pytest.mark.parametrize("depth, linked", [(3, True), (4, False)])
def test_a_links_target_may_nest_parentheses_to_link_nesting_limit(monkeypatch, depth, linked):
    monkeypatch.setattr(markup, "LINK_NESTING_LIMIT", 3)
    target = "https://example.com/" + "a(" * (depth - 1) + "x" + ")" * (depth - 1)
    source = f"[text]({target})"
    assert (f'href="{target}"' in render_markdown(source)) is linked
    assert (f'href="{target}"' in render_comment(source)) is linked


def test_link_targets_that_never_close_stay_text(monkeypatch):
    """Python-Markdown read the target of each "[a](" to the end of the text: 1,250 of them in a comment took 0.38 s
    of a worker. A run of them opens parentheses, so only the last LINK_NESTING_LIMIT are read to the end."""
    read_to_the_end = []
    python_markdowns = LinkInlineProcessor.getLink

    def counted(self, data, index):
        read_to_the_end.append(index)
        return python_markdowns(self, data, index)

    monkeypatch.setattr(LinkInlineProcessor, "getLink", counted)
    for unit in ("[a](", "[a](x", "![a](", "[a](<"):
        read_to_the_end.clear()
        text = (unit * 2000)[:5000]
        assert render_comment(text) == f"<p>{escape(text)}</p>"
        assert len(read_to_the_end) <= markup.LINK_NESTING_LIMIT
    assert render_comment("[a](https://example.com/(x)) [b](y") == (
        '<p><a href="https://example.com/(x)" rel="nofollow noopener">a</a> [b](y</p>'
    )


def test_brackets_that_never_close_stay_text():
    """Python-Markdown looked for the closing bracket of each [ to the end: 5,000 of them took 3.6 s of a worker."""
    assert render_comment("[" * 5000) == "<p>" + "[" * 5000 + "</p>"
    assert render_markdown("![" * 2500) == "<p>" + "![" * 2500 + "</p>"
    nested = "[a [b [c] d] e](https://example.com) and [r][1]\n\n[1]: https://example.org"
    assert render_markdown(nested) == (
        '<p><a href="https://example.com" rel="nofollow noopener">a [b [c] d] e</a> and '
        '<a href="https://example.org" rel="nofollow noopener">r</a></p>'
    )


@pytest.mark.parametrize(
    "body", ["- " * 1000 + "x", "1. " * 1000 + "x", '<div markdown="1">\n' * 400 + "x" + "\n</div>" * 400]
)
def test_text_nested_past_the_formatters_depth_is_refused_with_a_message(body):
    """Python-Markdown recursed past Python's limit: a 500 in the preview, "maximum recursion depth exceeded" on
    a save."""
    with pytest.raises(markup.MarkupError, match="nests lists, quotes or blocks too deeply"):
        render_markdown(body)
