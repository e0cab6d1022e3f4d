"""The moderators' list of blocked words: a new comment containing one waits in the queue."""

from flask_babel import lazy_gettext as _l
from flask_security import current_user
from wtforms.validators import DataRequired

from admin_views.base import StaffModelView
from cms.comments import check_new_word
from cms.permissions import Perm


class BlockedWordView(StaffModelView):
    required = Perm.MODERATE
    can_view_details = False
    column_list = ("word", "created_by", "created_at")
    column_labels = {"word": _l("Word"), "created_by": _l("Created by"), "created_at": _l("Created at")}
    column_searchable_list = ("word",)
    column_sortable_list = ("word", "created_at")
    column_default_sort = "word"
    form_columns = ("word",)
    form_args = {
        "word": {
            "validators": [DataRequired()],  # the column gives Length(max=BLOCKED_WORD_LENGTH): once is enough
            "description": _l("Matched without regard to case; whole words for Latin script, anywhere in 中文."),
        }
    }

    def on_model_change(self, form, model, is_created):
        self.enforce(check_new_word, model)
        if is_created:
            model.created_by_id = current_user.id
