"""The console's front page: what needs attention, each figure linked to its filtered list, comments per day."""

from datetime import timedelta

from flask_admin import AdminIndexView, expose

from admin_views.base import deny_access, staff_may
from cms import outbox
from cms.dashboard import attention, comments_per_day
from cms.models import CommentStatus, MailStatus, PostStatus
from cms.permissions import STAFF


class DashboardView(AdminIndexView):
    """The console's front page, open to all staff: what needs attention, each figure linked to its list."""

    def is_accessible(self) -> bool:
        return staff_may(STAFF)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _view(self, endpoint: str):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    @expose("/")
    def index(self):
        figures = attention()
        comments, posts, users = self._view("comment"), self._view("post"), self._view("user")
        stamp = "%Y-%m-%d %H:%M:%S"
        links = {
            "pending_comments": comments.filter_url(status_equals=CommentStatus.PENDING)
            if comments.is_accessible()
            else None,
            "posts_in_review": posts.filter_url(status_equals=PostStatus.REVIEW) if posts.is_accessible() else None,
            "scheduled_posts": posts.filter_url(
                status_equals=PostStatus.PUBLISHED, published_at_greater_than=figures["now"].strftime(stamp)
            )
            if posts.is_accessible()
            else None,
            "new_users_week": users.filter_url(member_since_greater_than=figures["week_ago"].strftime(stamp))
            if users.is_accessible()
            else None,
        }
        days = comments_per_day()
        chart = {
            "labels": [d.isoformat() for d, _ in days],
            "counts": [n for _, n in days],
            "links": [
                comments.filter_url(
                    created_on_or_after=d.isoformat(), created_before=(d + timedelta(days=1)).isoformat()
                )
                if comments.is_accessible()
                else None
                for d, _ in days
            ],
        }
        mail = self._view("outbox")
        failed_mail = outbox.failed_count() if mail.is_accessible() else 0
        failed_mail_url = mail.filter_url(status_equals=MailStatus.FAILED) if failed_mail else None
        return self.render("admin/index.html", figures=figures, links=links, chart=chart, failed_mail=failed_mail,
                           failed_mail_url=failed_mail_url)  # fmt: skip
