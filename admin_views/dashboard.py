"""The console's front page: each role's own work, each figure linked to its filtered list. Writers see their
drafts, their posts in review and recent comments on their posts; publishers the review queue and the schedule;
moderators the queue and comments per day; translators catalog progress and content waiting for translation;
administrators also new accounts."""

from datetime import timedelta

from flask_admin import AdminIndexView, expose
from flask_security import current_user

from admin_views.base import deny_access, staff_may
from cms import catalogs, dashboard, outbox
from cms.models import CommentStatus, MailStatus, PostStatus, utcnow
from cms.permissions import STAFF, Perm, can
from cms.post_translations import working_languages

STAMP = "%Y-%m-%d %H:%M:%S"


class DashboardView(AdminIndexView):
    """The console's front page, open to all staff: what needs their attention, each figure linked to its list."""

    def is_accessible(self) -> bool:
        return staff_may(STAFF)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access()

    def _view(self, endpoint: str):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    @expose("/")
    def index(self):
        posts, comments, users = self._view("post"), self._view("comment"), self._view("user")
        page: dict = {"links": {}, "chart": None}
        links = page["links"]
        if can(Perm.WRITE):
            page["writer"] = dashboard.writer_work(current_user)
            mine = {"author_user_username_equals": current_user.username}
            links["my_drafts"] = posts.filter_url(status_equals=PostStatus.DRAFT, **mine)
            links["my_review"] = posts.filter_url(status_equals=PostStatus.REVIEW, **mine)
        if can(Perm.PUBLISH):
            page["editor"] = dashboard.editor_work()
            links["posts_in_review"] = posts.filter_url(status_equals=PostStatus.REVIEW)
            links["scheduled_posts"] = posts.filter_url(
                status_equals=PostStatus.PUBLISHED, published_at_greater_than=utcnow().strftime(STAMP)
            )
        if can(Perm.MODERATE):
            page["queue"] = dashboard.moderation_queue()
            links["pending_comments"] = comments.filter_url(status_equals=CommentStatus.PENDING)
            page["chart"] = self._chart(comments)
        if can(Perm.TRANSLATE):
            languages = working_languages(current_user)
            page["languages"] = languages
            page["catalogs"] = [stats for stats in catalogs.overview() if stats["locale"] in languages]
            page["translation"], page["translation_rows"] = dashboard.translation_work(languages)
        if can(Perm.ADMIN):
            page["figures"] = figures = dashboard.attention()
            # "After" a whole second lists from the next one: the second before the week's first is the one to give.
            since = figures["week_ago"] - timedelta(seconds=1)
            links["new_users_week"] = users.filter_url(member_since_greater_than=since.strftime(STAMP))
            page["failed_mail"] = outbox.failed_count()
            if page["failed_mail"]:
                links["failed_mail"] = self._view("outbox").filter_url(status_equals=MailStatus.FAILED)
        return self.render("admin/index.html", **page)

    def _chart(self, comments) -> dict:
        days = dashboard.comments_per_day()
        return {
            "labels": [d.isoformat() for d, _ in days],
            "counts": [n for _, n in days],
            "links": [
                comments.filter_url(
                    created_on_or_after=d.isoformat(), created_before=(d + timedelta(days=1)).isoformat()
                )
                for d, _ in days
            ],
        }
