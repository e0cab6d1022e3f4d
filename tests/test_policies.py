"""The per-model policies: one table per decision, role × situation → allowed."""

import pytest

from cms import policies
from cms.comments import CommentError, moderate_one
from cms.media import MediaError, check_delete
from cms.models import CommentStatus, ExportJob, Media, PostStatus
from cms.posts import PostError, change_post_status, check_status_change
from tests.factories import make_comment, make_post

# role, old status, new status, allowed
STATUS_CHANGES = [
    ("author", PostStatus.DRAFT, PostStatus.REVIEW, True),
    ("author", PostStatus.REVIEW, PostStatus.DRAFT, True),
    ("author", PostStatus.DRAFT, PostStatus.PUBLISHED, False),
    ("author", PostStatus.PUBLISHED, PostStatus.DRAFT, False),
    ("author", PostStatus.REVIEW, PostStatus.ARCHIVED, False),
    ("author", PostStatus.PUBLISHED, PostStatus.PUBLISHED, True),
    ("editor", PostStatus.REVIEW, PostStatus.PUBLISHED, True),
    ("editor", PostStatus.PUBLISHED, PostStatus.ARCHIVED, True),
    ("administrator", PostStatus.DRAFT, PostStatus.PUBLISHED, True),
    ("moderator", PostStatus.DRAFT, PostStatus.PUBLISHED, False),
]


@pytest.mark.parametrize(("role", "old", "new", "allowed"), STATUS_CHANGES)
def test_post_status_changes(users, role, old, new, allowed):
    user = users[role]
    assert policies.posts.may_change_status(user, old, new) is allowed
    if allowed:
        check_status_change(user, old, new)
    else:
        with pytest.raises(PostError, match="Only editors with the publish permission"):
            check_status_change(user, old, new)


def test_unknown_post_status_is_refused(users):
    with pytest.raises(PostError, match="Unknown status"):
        check_status_change(users["editor"], PostStatus.DRAFT, "gone")


# role, whose post, status, may see, may delete
POST_RIGHTS = [
    ("author", "own", PostStatus.DRAFT, True, True),
    ("author", "own", PostStatus.PUBLISHED, True, False),
    ("author", "other", PostStatus.DRAFT, False, False),
    ("editor", "other", PostStatus.DRAFT, True, True),
    ("editor", "other", PostStatus.PUBLISHED, True, True),
    ("administrator", "other", PostStatus.ARCHIVED, True, True),
    ("moderator", "other", PostStatus.DRAFT, False, False),
]


@pytest.mark.parametrize(("role", "whose", "status", "may_see", "may_delete"), POST_RIGHTS)
def test_post_rights(users, role, whose, status, may_see, may_delete):
    user = users[role]
    post = make_post(user if whose == "own" else users["translator"], status=status)
    assert policies.posts.may_see(user, post) is may_see
    assert policies.posts.may_delete(user, post) is may_delete


def test_bulk_status_change_counts_refusals_and_is_audited(users):
    from sqlalchemy import select

    from cms.extensions import db
    from cms.models import AuditLog

    author = users["author"]
    own, other = make_post(author), make_post(users["editor"])
    changed, refused = change_post_status(author, [own, other], PostStatus.REVIEW)
    assert (changed, refused) == (1, 1)
    db.session.expire_all()
    assert own.status == PostStatus.REVIEW and other.status == PostStatus.DRAFT
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "bulk_review")).one()
    assert entry.summary == "1 changed, 1 refused"


@pytest.mark.parametrize(("role", "uploader", "allowed"), [("author", True, True), ("author", False, False),
                                                           ("editor", False, True)])  # fmt: skip
def test_only_the_uploader_or_an_editor_deletes_an_image(users, role, uploader, allowed):
    user = users[role]
    image = Media(uploader_id=user.id if uploader else users["reader"].id)
    assert policies.media.may_delete(user, image) is allowed
    if not allowed:
        with pytest.raises(MediaError, match="Only the uploader or an editor"):
            check_delete(user, image)


@pytest.mark.parametrize(("role", "own", "allowed"), [("moderator", True, True), ("moderator", False, False),
                                                      ("administrator", False, True)])  # fmt: skip
def test_export_downloads(users, role, own, allowed):
    user = users[role]
    job = ExportJob(user_id=user.id if own else users["editor"].id)
    assert policies.exports.may_download(user, job) is allowed


def test_hiding_one_comment_needs_a_reason(users):
    comment = make_comment(users["reader"], make_post(users["author"], status=PostStatus.PUBLISHED))
    comment.status = CommentStatus.HIDDEN
    with pytest.raises(CommentError, match="Choose why the comment is hidden"):
        moderate_one(comment, users["moderator"])
    comment.hidden_reason = "spam"
    moderate_one(comment, users["moderator"])
    assert comment.moderated_by_id == users["moderator"].id
    comment.status = CommentStatus.APPROVED
    moderate_one(comment, users["moderator"])
    assert comment.hidden_reason is None
