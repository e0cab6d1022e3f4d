"""The base of the app's own forms: Flask-WTF's FlaskForm, with WTForms' messages read once per language.

Flask-WTF loads WTForms' catalog from its package files again for every request that builds a form (every console
list builds one, for its "With selected" actions): 0.3-0.4 ms of a 10 ms page. The catalogs are files of the
installed WTForms and never change while the process runs, so each language's is kept, for up to
WTFORMS_CATALOGS_CACHED languages (the app serves those of LOCALES)."""

import functools

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale, gettext
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError

from cms.domain import has_control_characters

WTFORMS_CATALOGS_CACHED = 32  # languages, as cms.timestamps.PATTERNS_CACHED


@functools.lru_cache(maxsize=WTFORMS_CATALOGS_CACHED)
def wtforms_catalog(locale: str) -> support.Translations | support.NullTranslations:
    """WTForms' own messages ("This field is required.") in `locale`, as Flask-WTF loads them."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class AppForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            locale = get_locale() if has_request_context() else None
            if locale is None or not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return wtforms_catalog(str(locale))


class OneLine:
    """A WTForms validator: the text is one line of characters a reader can see, with no control characters
    (U+0000-U+001F, U+007F-U+009F: a tab, a newline, an escape), which a name shows as nothing on a page and
    which XML cannot hold."""

    def __call__(self, form, field) -> None:
        if has_control_characters(field.data):
            # A str, not a lazy string: Flask-Admin's form template shows only errors that are strings.
            raise ValidationError(gettext("Use letters, digits, spaces and punctuation only, on one line."))


def one_character_line_breaks(text: str | None) -> str | None:
    """A WTForms filter: a textarea's line breaks as its `maxlength` counts them, one character each. Browsers send
    each as CR LF, so a text the page let a reader type to the limit came back over it."""
    return text.replace("\r\n", "\n") if text else text


EARLIEST_YEAR = 1000  # MariaDB's DATETIME holds the years 1000-9999, and a form shows a date with four digits


class StoredYear:
    """A WTForms validator of a date and time: its year is one both databases hold and the form shows again as it
    was typed. A year before 1000 is shown back as three digits (`999-01-01`), which the form then refuses to read, so
    that the post could not be saved again until the date was typed anew."""

    def __call__(self, form, field) -> None:
        if field.data is not None and field.data.year < EARLIEST_YEAR:
            raise ValidationError(gettext("Give a year from 1000 to 9999."))
