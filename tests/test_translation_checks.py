"""Checks on one translation against its original: placeholders, markup, formatting, white space at the edges."""

import polib
import pytest

from cms.translation_checks import entry_errors, format_errors, placeholders, validate_translation


@pytest.mark.parametrize(
    ("source", "translation", "problem"),
    [
        ("Hello %(name)s", "Hola %(name)s", None),
        ("Hello %(name)s", "Hola %(nombre)s", "placeholders"),
        ("Hello %(name)s", "Hola", "placeholders"),
        ("%(num)d posts by %(name)s", "%(name)s 的 %(num)d 篇文章", None),
        ("%s comments", "%s comentarios", None),
        ("%s comments", "%d comentarios", "placeholders"),
        ("Hello {name}", "Hola {name}", None),
        ("Hello {name}", "Hola {nombre}", "placeholders"),
        ("Say <b>hi</b>", "Di <b>hola</b>", None),
        ("Say <b>hi</b>", "Di <b>hola", "markup"),
        ("Say <b>hi</b>", "Di <i>hola</i>", "markup"),
        ("Say <b>hi</b>", "Di </b>hola<b>", "markup"),
        ("Say <b>hi</b>", 'Di <b class="x">hola</b>', "markup"),
        ("Sign in", "登录<img src=x onerror=alert(1)/>", "markup"),
        ("Sign in", "登录%", "formatted"),
        ("100%% sure", "100%% seguro", None),
        ("Line<br>break", "Línea<br>salto", None),
        ("Trailing space ", "Espacio final", "white space"),
        ("\nLeading newline", "\nSalto inicial", None),
        ("\nLeading newline", "Salto inicial", "white space"),
        ("Anything", "", None),
        ("Sign in", "Más <![x[", "markup"),  # the HTML parser cannot read it: markup no original has
        ("Sign in", "Más <![ nuevos", "markup"),
        ("%s comments", "%999999999999s comentarios", "formatted"),  # formatting it was a MemoryError
        ("Hello %(name1001)s", "Hola %(name1001)s", None),  # the digits of a name are no width
    ],
)
def test_translation_validation(source, translation, problem):
    errors = validate_translation(source, translation)
    if problem is None:
        assert errors == []
    else:
        assert any(problem in e for e in errors), errors


def test_plural_forms_may_follow_either_original():
    assert validate_translation("%(num)d post", "%(num)d artículos", ("%(num)d posts",)) == []
    assert validate_translation("One post", "%(num)d 篇文章", ("%(num)d posts",)) == []


def test_placeholders_count_repeats():
    assert placeholders("%(a)s and %(a)s") != placeholders("%(a)s")


def test_entry_errors_name_the_plural_form_at_fault():
    entry = polib.POEntry(
        msgid="%(num)d post", msgid_plural="%(num)d posts", msgstr_plural={0: "%(num)d artículo", 1: "artículos"}
    )
    assert entry_errors(entry) == [
        "form 1: placeholders must match the original (%(num)d); found none",
    ]


def test_entry_errors_check_the_single_form():
    assert entry_errors(polib.POEntry(msgid="Say <b>hi</b>", msgstr="Di hola")) == [
        "the HTML markup must be exactly the original's: the same tags with the same attributes, in order"
    ]


@pytest.mark.parametrize(
    ("placeholder", "refused"),
    [("%1000s", False), ("%1001s", True), ("%.1000f", False), ("%.1001f", True), ("%(n)1001d", True)],
)
def test_a_width_or_precision_past_the_limit_is_refused_before_formatting(placeholder, refused):
    """FORMAT_WIDTH_LIMIT (1,000): wider placeholders are refused without formatting them, even where the
    original has the same one (formatting %999999999999s ran out of memory)."""
    errors = format_errors(f"Hola {placeholder}", (f"Hello {placeholder}",))
    assert bool(errors) == refused, errors
    if refused:
        assert "a width or precision of at most 1000" in errors[0]
