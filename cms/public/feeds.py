"""Machine-readable public content: the Atom feed per language and the sitemap with hreflang alternates."""

import re
from datetime import UTC
from xml.etree import ElementTree as ET

from flask import current_app, g, url_for
from flask_babel import gettext

from cms.content import latest_change, localise, with_content
from cms.extensions import db
from cms.locale import supported_locales
from cms.models import utcnow
from cms.page_cache import cached_page
from cms.posts import public_posts
from cms.public.blueprint import bp, site

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML = "http://www.w3.org/1999/xhtml"
FEED_SIZE = 20
SITEMAP_CHUNK = 2000
# What XML 1.0 cannot hold, escaped or not (control characters, lone surrogates, U+FFFE/U+FFFF): ElementTree writes
# them as they are, and no feed reader parses the result.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _iso(value) -> str:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _text(value: str) -> str:
    """Text for the feed, without the characters XML cannot hold (a name typed with a control character in it)."""
    return NOT_XML.sub("", value)


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@bp.route("/feed.atom")
@cached_page
def atom_feed():
    query = with_content(public_posts()).limit(FEED_SIZE)
    entries = [localise(post, g.locale) for post in db.session.scalars(query)]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": g.locale})
    ET.SubElement(feed, f"{{{ATOM}}}id").text = url_for("public.index", _external=True)
    ET.SubElement(feed, f"{{{ATOM}}}title").text = _text(gettext("Newsroom"))  # translators may err
    updated = latest_change(query) or utcnow()
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=url_for("public.atom_feed", _external=True))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=url_for("public.index", _external=True))
    for entry in entries:
        post = entry.post
        link = url_for("public.post", slug=post.slug, _external=True)
        item = ET.SubElement(feed, f"{{{ATOM}}}entry", {"xml:lang": entry.lang})
        ET.SubElement(item, f"{{{ATOM}}}id").text = link
        ET.SubElement(item, f"{{{ATOM}}}title").text = _text(entry.title)
        ET.SubElement(item, f"{{{ATOM}}}link", rel="alternate", href=link)
        ET.SubElement(item, f"{{{ATOM}}}published").text = _iso(post.published_at)
        ET.SubElement(item, f"{{{ATOM}}}updated").text = _iso(max(entry.last_modified, post.published_at))
        author = ET.SubElement(item, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = _text(post.author.display_name)
        ET.SubElement(item, f"{{{ATOM}}}content", type="html").text = _text(entry.body_html)
    response = current_app.response_class(_xml(feed), mimetype="application/atom+xml")
    return response, updated


@site.route("/sitemap.xml")
@cached_page
def sitemap():
    """One <url> per language version of every public post, each listing all versions (hreflang)."""
    ET.register_namespace("", SITEMAP)
    ET.register_namespace("xhtml", XHTML)
    root = ET.Element(f"{{{SITEMAP}}}urlset")
    locales = supported_locales()
    for locale in locales:
        url = ET.SubElement(root, f"{{{SITEMAP}}}url")
        ET.SubElement(url, f"{{{SITEMAP}}}loc").text = url_for("public.index", locale=locale, _external=True)
        _alternates(url, locales, "public.index", {})
    query = with_content(public_posts()).execution_options(yield_per=SITEMAP_CHUNK)
    for post in db.session.scalars(query):
        entry = localise(post, post.locale)
        available = entry.available
        for locale in available:
            url = ET.SubElement(root, f"{{{SITEMAP}}}url")
            ET.SubElement(url, f"{{{SITEMAP}}}loc").text = url_for(
                "public.post", locale=locale, slug=post.slug, _external=True
            )
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = _iso(post.updated_at)
            _alternates(url, available, "public.post", {"slug": post.slug}, default=entry.default_lang)
    return current_app.response_class(_xml(root), mimetype="application/xml")


def _alternates(url: ET.Element, locales: list[str], endpoint: str, args: dict, default: str | None = None) -> None:
    for locale in locales:
        href = url_for(endpoint, locale=locale, _external=True, **args)
        ET.SubElement(url, f"{{{XHTML}}}link", rel="alternate", hreflang=locale, href=href)
    default_locale = default or current_app.config["DEFAULT_LOCALE"]
    href = url_for(endpoint, locale=default_locale, _external=True, **args)
    ET.SubElement(url, f"{{{XHTML}}}link", rel="alternate", hreflang="x-default", href=href)
