"""Cross-site scripting payloads and the check that a page shows them as text.

The vectors follow OWASP's XSS filter evasion cheat sheet, each made to set `window.__xss` instead of calling
alert(), so a browser tells whether any of them ran. The HTML check parses a page as a browser's tokenizer
would and finds what an attacker could have put there: a script, an event handler, a script URL, a frame's
source document, each carrying the payload's marker."""

from __future__ import annotations

import base64
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import unquote

MARKER = "__xss"

VECTORS = [
    "<script>window.__xss=1</script>",
    "<SCRIPT SRC=data:text/javascript,window.__xss=1></SCRIPT>",
    "<img src=x onerror=window.__xss=1>",
    '<IMG SRC=x oNeRrOr="window.__xss=1">',
    '<img/src="x"/onerror=window.__xss=1>',
    "<img src=x onerror=&#119;indow.__xss=1>",
    "<img src=x onerror=\\u0077indow.__xss=1>",
    "<svg onload=window.__xss=1>",
    "<svg/onload=window.__xss=1//",
    "<svg><script>window.__xss=1</script></svg>",
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    '<div onmouseover="window.__xss=1">hover</div>',
    "<b\tonclick=window.__xss=1>click</b>",
    '<a href="javascript:window.__xss=1">a1</a>',
    '<a href=" JaVaScRiPt:window.__xss=1">a2</a>',
    '<a href="jav&#x09;ascript:window.__xss=1">a3</a>',
    '<a href="&#106;avascript&#58;window.__xss=1">a4</a>',
    '<a href="data:text/html,<script>parent.__xss=1</script>">a5</a>',
    "<iframe src=javascript:parent.__xss=1>",
    "<iframe srcdoc='<script>parent.__xss=1</script>'>",
    "<object data=javascript:parent.__xss=1>",
    "<form><button formaction=javascript:window.__xss=1>f</button>",
    "<meta http-equiv=refresh content='0;url=javascript:window.__xss=1'>",
    "<math><a xlink:href=javascript:window.__xss=1>m</a></math>",
    '"><svg onload=window.__xss=1>',
    "'><img src=x onerror=window.__xss=1>",
    '" onmouseover="window.__xss=1" x="',
    "' onfocus='window.__xss=1' autofocus x='",
    "x onmouseover=window.__xss=1 y",
    "x style=animation-name:spinner-border onanimationstart=window.__xss=1 y",
    "</textarea><svg onload=window.__xss=1>",
    "</title><svg onload=window.__xss=1>",
    "</script><svg onload=window.__xss=1>",
    "<<script>script>window.__xss=1<</script>/script>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "{{7*7}}{{constructor.constructor('window.__xss=1')()}}",
    "[a6](javascript:window.__xss=1)",
    '![a7](x" onerror="window.__xss=1)',
    "<img src=x onerror=window.__xss=1//",
    "＜script＞top.__xss=1＜/script＞",  # not window.__xss: MariaDB's collation folds it onto the first vector
]

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background", "codebase"}
# Attributes whose value is only ever text or a same-site link when the product escapes what it puts there.
TEXT_ATTRIBUTES = {"alt", "title", "value", "aria-label", "placeholder", "label", "content", "id", "name", "for"}
SCRIPT_SCHEMES = re.compile(r"^(javascript|vbscript|data):", re.I)
JS_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")


def fitting(limit: int) -> list[str]:
    """The vectors a field of `limit` characters can hold."""
    return [vector for vector in VECTORS if len(vector) <= limit]


def one_line(vectors: list[str]) -> list[str]:
    """The vectors a name can hold: names refuse control characters (a tab, a newline) with a form error."""
    return [vector for vector in vectors if not any(unicodedata.category(char) == "Cc" for char in vector)]


def _script_url(value: str) -> bool:
    """Whether a URL attribute's value (entities decoded) would run the payload: browsers drop ASCII white space
    and control characters inside the scheme, and a data: URL may carry it in base64."""
    squeezed = re.sub(r"[\x00-\x20]", "", value)
    if not SCRIPT_SCHEMES.match(squeezed):
        return False
    text = unquote(squeezed)
    if ";base64," in text.lower():
        try:
            text += base64.b64decode(text.split(",", 1)[1] + "==").decode("utf-8", "replace")
        except ValueError:
            pass
    return MARKER in text


class Page(HTMLParser):
    """A page read as a browser's tokenizer reads it: its tags with their attributes (entities decoded), the
    text of its scripts, and the rest of its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.texts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.texts).append(data)


def read_page(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def offences(html: str | Page) -> list[str]:
    """Everything on the page through which a payload could run: empty when it is all shown as text. A payload
    inside a string literal of the product's own event handler (a translated confirmation) is text."""
    page = read_page(html) if isinstance(html, str) else html
    found = [f"script element: {script[:80]!r}" for script in page.scripts if MARKER in script]
    for tag, attrs in page.tags:
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                if MARKER in JS_STRING.sub("", value):
                    found.append(f"<{tag} {name}={value!r}>: an event handler")
            elif name in URL_ATTRIBUTES and _script_url(value):
                found.append(f"<{tag} {name}={value!r}>: a script URL")
            elif name == "srcdoc" and MARKER in value:
                found.append(f"<{tag} srcdoc={value!r}>: a frame's document")
            elif tag == "meta" and name == "content" and "javascript:" in value.lower():
                found.append(f"<meta content={value!r}>: a refresh to a script URL")
            elif MARKER in value and name not in TEXT_ATTRIBUTES | URL_ATTRIBUTES and not name.startswith("data-"):
                found.append(f"<{tag} {name}={value!r}>: the payload in an attribute that is not text")
    return found


def shown_as_text(html: str | Page, value: str) -> bool:
    """Whether `value`, exactly as stored, is on the page as text or inside a text attribute."""
    page = read_page(html) if isinstance(html, str) else html
    if any(value in text for text in page.texts):
        return True
    return any(value in (v or "") for _, attrs in page.tags for name, v in attrs if name in TEXT_ATTRIBUTES)


def assert_inert(html: str, where: str, shown: list[str] = ()) -> None:
    """No payload can run from the page, and each value of `shown` is on it as text."""
    page = read_page(html)
    found = offences(page)
    assert not found, f"{where}: " + "; ".join(found)
    missing = [value for value in shown if not shown_as_text(page, value)]
    assert not missing, f"{where}: not shown as text: {missing}"


# -- in the browser ----------------------------------------------------------------------------------------
# Run in the page after it loaded: keeps ordinary links and forms from leaving it (a script URL still runs), then
# hovers, focuses and clicks every element whose text or attributes hold the marker; answers their centres.
POKE = """() => {
  document.addEventListener('click', event => {
    const link = event.target.closest && event.target.closest('a[href]');
    if (link && !/^javascript:/i.test(link.getAttribute('href').replace(/[\\x00-\\x20]/g, ''))) event.preventDefault();
  }, true);
  document.addEventListener('submit', event => {
    const action = (event.submitter && event.submitter.getAttribute('formaction')) || event.target.getAttribute('action') || '';
    if (!/^javascript:/i.test(action.replace(/[\\x00-\\x20]/g, ''))) event.preventDefault();
  }, true);
  const marked = [...document.querySelectorAll('body *')].filter(element =>
    [...element.childNodes].some(node => node.nodeType === 3 && node.data.includes('__xss')) ||
    [...element.attributes].some(attribute => attribute.value.includes('__xss')));
  const centres = [];
  for (const element of marked) {
    for (const type of ['pointerover', 'pointerenter', 'mouseover', 'mouseenter', 'mousemove', 'mousedown', 'mouseup']) {
      element.dispatchEvent(new MouseEvent(type, {bubbles: true}));
    }
    if (element.focus) element.focus();
    if (element.click) element.click(); else element.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    const box = element.getBoundingClientRect();
    if (box.width && box.height) centres.push([box.x + box.width / 2, box.y + box.height / 2]);
  }
  return centres;
}"""
SETTLE = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0))))"


def payload_ran(page) -> str | None:
    """After a page loaded: whether a payload ran on load, or on hovering and clicking what carries the marker
    (or took the page elsewhere, as a refresh to a script URL would)."""
    from playwright.sync_api import Error

    try:
        page.evaluate(SETTLE)
        if page.evaluate("window.__xss") is not None:
            return "on load"
        for x, y in page.evaluate(POKE):
            page.mouse.move(x, y)
        page.evaluate(SETTLE)
        if page.evaluate("window.__xss") is not None:
            return "on hover or click"
    except Error as exc:
        return f"and the page went elsewhere ({str(exc).splitlines()[0]})"
    return None


def visit(page, url: str) -> str | None:
    """Open `url` and say whether a payload ran there (None: nothing ran)."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    ran = payload_ran(page)
    return f"{url}: a payload ran {ran}" if ran else None
