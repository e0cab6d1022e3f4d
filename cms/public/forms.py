"""Forms readers fill in on the public site."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from cms.comments import MAX_COMMENT_LENGTH
from cms.forms import AppForm, OneLine, one_character_line_breaks
from cms.models import ABOUT_ME_LENGTH


class CommentForm(AppForm):
    body = TextAreaField(
        _l("Your comment"),
        validators=[DataRequired(), Length(max=MAX_COMMENT_LENGTH)],
        filters=[one_character_line_breaks],
    )


class ProfileForm(AppForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64), OneLine()])
    about_me = TextAreaField(
        _l("About me"), validators=[Optional(), Length(max=ABOUT_ME_LENGTH)], filters=[one_character_line_breaks]
    )
    # No Optional(): for a value of only white space it would clear the choice's "Not a valid choice". The choices
    # hold "" (as the browser says).
    locale = SelectField(_l("Preferred language"))
