"""Translations in templates are text placed into their original's markup: never script, never a 500."""

import pytest
from flask import render_template_string
from markupsafe import Markup

from cms.translated_markup import safe_translation
from cms.translation_checks import validate_translation

# (msgid, hostile or broken msgstr) as a translator could save them
HOSTILE = [
    ("Sign in", "登录<img src=x onerror=alert(document.domain)/>"),
    ("Sign in", "登录<script>alert(1)</script>"),
    ("Language", '语言" onmouseover="alert(document.cookie)" x="'),
    ("Language", "语言' onfocus='alert(1)"),
    ("Say <b>hi</b>", 'Di <b onclick="alert(1)">hola</b>'),
    ("Say <b>hi</b>", "Di <b>hola</b><svg onload=alert(1)>"),
    ('Read <a href="/help">the help</a>', 'Lee <a href="javascript:alert(1)">la ayuda</a>'),
    ("Staff console", "控制台<!--<script>alert(1)</script>-->"),
    ("Sign in", "登录&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("Sign in", "登录<![x[<script>alert(1)</script>"),  # markup the HTML parser cannot read
]


@pytest.mark.parametrize(("msgid", "msgstr"), HOSTILE)
def test_a_hostile_translation_renders_as_text_inside_the_originals_markup(msgid, msgstr):
    html = str(safe_translation(msgid, msgstr))
    assert not any(f"<{tag}" in html for tag in ("img", "svg", "script", "!--"))
    assert not any(attribute in html for attribute in ('onmouseover="', "onfocus='", "onclick", "onerror=", "onload="))
    assert "javascript:" not in html


@pytest.mark.parametrize(("msgid", "msgstr"), [(m, t) for m, t in HOSTILE if "<" in t.replace("&lt;", "")])
def test_a_translation_whose_markup_differs_is_refused_on_save(msgid, msgstr):
    assert any("markup" in error for error in validate_translation(msgid, msgstr))


def test_text_keeps_the_originals_tags_and_escapes_the_rest():
    assert safe_translation("Say <b>hi</b> & go", 'Di <b>hola</b> y «ve» & "ya"') == Markup(
        "Di <b>hola</b> y «ve» &amp; &#34;ya&#34;"
    )
    assert safe_translation('Read <a href="/help">the help</a>', 'Lee <a href="/help">la ayuda</a>') == Markup(
        'Lee <a href="/help">la ayuda</a>'
    )


@pytest.mark.parametrize(
    ("msgid", "msgstr", "problem"),
    [
        ("Sign in", "登录%", "formatted"),
        ("Hello %(name)s", "Hola %(name)", "formatted"),
        ("%(num)d posts", "%(num)d artículos", None),
        ("100%% sure", "100%% seguro", None),
        ("Sign in", "登录", None),
    ],
)
def test_format_errors_are_refused_on_save(msgid, msgstr, problem):
    errors = validate_translation(msgid, msgstr)
    assert any(problem in e for e in errors) if problem else errors == [], errors


def test_a_page_renders_the_msgid_when_an_entry_cannot_format(app):
    with app.test_request_context("/"):
        assert render_template_string("{{ _('Sign in') }}") == "Sign in"
        from cms.translated_markup import render

        assert render("Sign in", "登录%", {}, autoescape=True) == "Sign in"
        assert render("Hi %(name)s", "Hola %(nombre)s", {"name": "<b>Ann</b>"}, autoescape=True) == (
            "Hi &lt;b&gt;Ann&lt;/b&gt;"
        )
        assert render("Hi %(name)s", "Hola %(name)s", {"name": "<b>Ann</b>"}, autoescape=True) == (
            "Hola &lt;b&gt;Ann&lt;/b&gt;"
        )


def test_parsed_translations_are_remembered_up_to_the_cache_size():
    safe_translation.cache_clear()
    from cms.translated_markup import SAFE_CACHE_SIZE

    for n in range(SAFE_CACHE_SIZE):
        safe_translation(f"Say <b>{n}</b>", f"Di <b>{n}</b>")
    assert safe_translation.cache_info().currsize == SAFE_CACHE_SIZE
    safe_translation("Say <b>one more</b>", "Di <b>uno más</b>")
    info = safe_translation.cache_info()
    assert info.currsize == SAFE_CACHE_SIZE and info.misses == SAFE_CACHE_SIZE + 1
    safe_translation.cache_clear()
