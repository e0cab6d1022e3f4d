"""Forms readers fill in on the public site."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from cms.comments import MAX_COMMENT_LENGTH


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Your comment"), validators=[DataRequired(), Length(max=MAX_COMMENT_LENGTH)])
