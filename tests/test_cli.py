"""The `flask cms` commands."""

import json
import os
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from cms.extensions import db
from cms.models import Comment, ExportJob, Follow, Post, Role, User, utcnow
from cms.permissions import DEFAULT_ROLES, Perm
from tests.factories import make_post
from tests.support.database import fresh


def count(model) -> int:
    return fresh(sa.select(sa.func.count()).select_from(model)).scalar()


def test_init_is_idempotent_and_repairs_role_permissions(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["cms", "init"])
    assert first.exit_code == 0, first.output
    reader = fresh(sa.select(Role).where(Role.name == "Reader")).scalar_one()
    reader.permissions = 0
    from cms.extensions import db

    db.session.commit()
    second = runner.invoke(args=["cms", "init"])
    assert second.exit_code == 0, second.output
    roles = {r.name: r.permissions for r in fresh(sa.select(Role)).scalars()}
    assert roles == {name: int(mask) for name, (mask, _) in DEFAULT_ROLES.items()}
    assert roles["Reader"] == Perm.FOLLOW | Perm.COMMENT
    assert roles["Administrator"] == 0xBF


def test_create_user_with_several_roles(app):
    result = app.test_cli_runner().invoke(
        args=[
            "cms",
            "create-user",
            "Desk@Example.com",
            "--password",
            "a-long-password",
            "--role",
            "Editor",
            "--role",
            "moderator",
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    user = fresh(sa.select(User).where(User.email == "desk@example.com")).scalar_one()
    assert sorted(r.name for r in user.roles) == ["Editor", "Moderator"]
    assert user.confirmed_at is not None


def test_create_user_reports_bad_input_without_a_traceback(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["cms", "create-user", "xavier@example.com", "--password", "a-long-password", "--role", "Wizard"]
    )
    assert result.exit_code == 1
    assert "Unknown role 'Wizard'" in result.output
    assert count(User) == 0
    result = runner.invoke(args=["cms", "create-user", "nonsense", "--password", "a-long-password"])
    assert result.exit_code == 1 and "Invalid email address" in result.output
    result = runner.invoke(args=["cms", "create-user", "yvonne@example.com", "--password", "short"])
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    result = runner.invoke(args=["cms", "create-user", "dots@example.com", "--password", "a-long-password",
                                 "--username", ".."])  # fmt: skip
    assert result.exit_code == 1 and "A username cannot be “.” or “..”" in result.output


def test_create_user_checks_a_username_as_it_will_be_kept(app):
    """A full-width or differently composed spelling of a taken username was a raw IntegrityError, and 22
    ligatures (66 letters once folded) were kept as a username that could not sign in."""
    runner = app.test_cli_runner()

    def create(email: str, *username: str):
        return runner.invoke(args=["cms", "create-user", email, "--password", "a-long-password", *username])

    assert create("first@example.com", "--username", "jose\u0301").exit_code == 0
    for email, username in [
        ("second@example.com", ["--username", "jos\u00e9"]),
        ("third@example.com", ["--username", "ＪＯＳＥ\u0301"]),
        ("jose\u0301@example.org", []),
    ]:
        result = create(email, *username)
        assert result.exit_code == 1 and "The username jose\u0301 is taken." in result.output, result.output
    result = create("lig@example.com", "--username", "\ufb03" * 22)
    assert result.exit_code == 1 and "A username is at most 64 characters long." in result.output
    assert create("lig@example.com", "--username", "\ufb03" * 21 + "x").exit_code == 0  # 64 as kept
    assert count(User) == 2


def test_seed_creates_one_account_per_role_and_the_requested_rows(app):
    result = app.test_cli_runner().invoke(
        args=["cms", "seed", "--users", "30", "--posts", "25", "--comments", "120", "--follows", "15"]
    )
    assert result.exit_code == 0, result.output
    for role in DEFAULT_ROLES:
        assert f"{role.lower()}@example.com" in result.output
    assert count(User) == 6 + 30
    assert count(Post) == 25 + 3  # and the showcase: a post written in Chinese, two scheduled ones
    assert count(Comment) == 120 + 2
    assert count(Follow) == 15
    admin = fresh(sa.select(User).where(User.email == "administrator@example.com")).scalar_one()
    assert [r.name for r in admin.roles] == ["Administrator"]


def test_seed_says_when_it_seeded_fewer_follows_than_asked(app):
    """Each account follows a writer once: with the demo accounts alone the pairs run out far below 500."""
    result = app.test_cli_runner().invoke(args=["cms", "seed", "--users", "0", "--posts", "1", "--comments", "0",
                                                "--follows", "500"])  # fmt: skip
    assert result.exit_code == 0, result.output
    seeded = count(Follow)
    assert 0 < seeded < 500
    assert f"Seeded {seeded:,} of the 500 follows asked for" in result.output
    enough = app.test_cli_runner().invoke(args=["cms", "seed", "--force", "--users", "0", "--posts", "0",
                                                "--comments", "0", "--follows", "0"])  # fmt: skip
    assert enough.exit_code == 0 and "follows asked for" not in enough.output


def test_seed_twice_seeds_once_and_says_it_skipped(app):
    runner = app.test_cli_runner()
    args = ["cms", "seed", "--users", "2", "--posts", "2", "--comments", "2", "--follows", "1"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    counts = {model: count(model) for model in (User, Post, Comment, Follow)}
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    assert "Skipped the demo data: the database already holds posts (5); --force adds more." in second.output
    assert "author@example.com" in second.output  # the accounts are still printed, to sign in with
    assert {model: count(model) for model in counts} == counts
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email.like("%@example.com"))).scalar() == 6


def test_seed_force_adds_to_a_seeded_database(app):
    runner = app.test_cli_runner()
    args = ["cms", "seed", "--users", "2", "--posts", "2", "--comments", "2", "--follows", "1"]
    assert runner.invoke(args=args).exit_code == 0
    forced = runner.invoke(args=[*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Skipped" not in forced.output
    assert count(Post) == 2 * (2 + 3)
    assert fresh(sa.select(sa.func.count()).select_from(User).where(User.email.like("%@example.com"))).scalar() == 6


def test_seed_skips_a_database_holding_real_work(app, users):
    make_post(users["author"], "draft")
    result = app.test_cli_runner().invoke(args=["cms", "seed"])
    assert result.exit_code == 0, result.output
    assert "Skipped the demo data: the database already holds posts (1)" in result.output
    assert count(Post) == 1


def test_seed_refuses_negative_counts(app):
    result = app.test_cli_runner().invoke(args=["cms", "seed", "--posts", "-1"])
    assert result.exit_code == 2
    assert count(Post) == 0


def _export_job(user_id: int, status: str, **values):
    job = ExportJob(id=uuid.uuid4().hex, user_id=user_id, format="csv", status=status, total=5,
                    selection=json.dumps({"status": "pending"}), **values)  # fmt: skip
    db.session.add(job)
    db.session.commit()
    return job.id


def test_jobs_fails_the_exports_whose_worker_stopped_and_lists_the_newest(app, users):
    stale = utcnow() - timedelta(seconds=app.config["JOB_STALE_AFTER"] + 1)
    dead = _export_job(users["moderator"].id, "running", done=2, created_at=stale, started_at=stale, heartbeat_at=stale)
    alive = _export_job(users["moderator"].id, "running", done=3, started_at=stale, heartbeat_at=utcnow())
    result = app.test_cli_runner().invoke(args=["cms", "jobs"])
    assert result.exit_code == 0, result.output
    assert f"Failed 1 background export(s) that could no longer finish: {dead}." in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "failed   2/5  the worker running it stopped" in lines[dead]
    assert lines[alive].endswith("running  3/5")
    newest = app.test_cli_runner().invoke(args=["cms", "jobs", "--limit", "1"]).output.splitlines()
    assert [line.split()[0] for line in newest] == [alive]
    assert app.test_cli_runner().invoke(args=["cms", "jobs", "--limit", "0"]).exit_code == 2


def test_the_worker_fails_the_exports_a_dead_worker_left_before_it_starts(app, users, monkeypatch):
    if not os.environ.get("CMS_TEST_REDIS_URL"):
        pytest.skip("needs CMS_TEST_REDIS_URL (set by .ci/run)")
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["CMS_TEST_REDIS_URL"])
    monkeypatch.setitem(app.config, "EXPORT_QUEUE", f"test-exports-{uuid.uuid4().hex}")
    dead = _export_job(users["moderator"].id, "running", done=2)  # from before heartbeats: none recorded
    result = app.test_cli_runner().invoke(args=["cms", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert f"Failed 1 background export(s) that could no longer finish: {dead}." in result.output


def test_the_worker_says_plainly_when_redis_does_not_answer(app, monkeypatch):
    """It printed redis-py's ConnectionError with its whole traceback."""
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["cms", "worker", "--burst"])
    assert result.exit_code == 1 and "Redis (CMS_REDIS_URL) does not answer:" in result.output
    assert "Traceback" not in result.output


def test_init_without_the_catalog_folder_names_it_and_changes_nothing(app, monkeypatch, tmp_path):
    """It applied the migrations, then stopped on a FileNotFoundError's traceback."""
    missing = tmp_path / "no-catalogs"
    monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(missing))
    result = app.test_cli_runner().invoke(args=["cms", "init"])
    assert result.exit_code == 1
    assert f"There is no catalog folder at {missing} (CATALOG_SOURCE_DIR)." in result.output
    assert "Database at the latest revision" not in result.output


def test_send_mail_sends_the_due_outbox_once_and_jobs_counts_the_failed(app):
    from cms import outbox
    from cms.models import MailStatus, OutgoingMail

    outbox.queue_mail("notice", "ann@example.com", "Hello", "Hello\n")
    db.session.add(OutgoingMail(kind="notice", recipient="bob@example.com", sender="no-reply@cms.localhost",
                                subject="Hi", body="", status=MailStatus.FAILED, attempts=5))  # fmt: skip
    db.session.commit()
    runner = app.test_cli_runner()
    sent = runner.invoke(args=["cms", "send-mail"])
    assert sent.exit_code == 0 and "Sent 1 mail(s); 1 failed for good (see /admin/outbox/)." in sent.output
    assert "Sent 0 mail(s)" in runner.invoke(args=["cms", "send-mail"]).output
    assert "1 mail(s) failed for good: see /admin/outbox/ (Send again)." in runner.invoke(args=["cms", "jobs"]).output


def test_i18n_init_starts_a_new_language_and_refuses_one_that_has_a_catalog(app, catalog_dir, monkeypatch):
    """`i18n init zh` wrote a fresh catalog over the committed one: its 541 translations gone, without a question."""
    monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(catalog_dir))
    runner = app.test_cli_runner()
    zh = catalog_dir / "zh" / "LC_MESSAGES" / "messages.po"
    before = zh.read_bytes()
    refused = runner.invoke(args=["cms", "i18n", "init", "zh"])
    assert refused.exit_code == 1 and "There is already a catalog for zh" in refused.output
    assert zh.read_bytes() == before
    for code, message in (("", "Give a language code"), ("../../escaped", "Give a language code"),
                          ("xx", "not a language Babel knows")):  # fmt: skip
        result = runner.invoke(args=["cms", "i18n", "init", code])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, code
    made = runner.invoke(args=["cms", "i18n", "init", "pt-BR"])
    assert made.exit_code == 0 and (catalog_dir / "pt_BR" / "LC_MESSAGES" / "messages.po").is_file()
    (catalog_dir / "messages.pot").unlink()
    result = runner.invoke(args=["cms", "i18n", "init", "fr"])
    assert result.exit_code == 1 and "run `flask cms i18n extract` first" in result.output


@pytest.mark.parametrize("command", ["extract", "update", "compile", "init"])
def test_i18n_commands_name_a_missing_catalog_folder_or_template(app, catalog_dir, monkeypatch, command):
    """A CATALOG_SOURCE_DIR that is not there was a traceback; a missing messages.pot was pybabel's own error."""
    arguments = ["cms", "i18n", command, *(["pt"] if command == "init" else [])]
    missing = catalog_dir.parent / "no-such-folder"
    monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(missing))
    result = app.test_cli_runner().invoke(args=arguments)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"There is no catalog folder at {missing} (CATALOG_SOURCE_DIR)." in result.output
    assert not missing.exists()
    if command in ("update", "init"):
        monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(catalog_dir))
        (catalog_dir / "messages.pot").unlink()
        before = (catalog_dir / "zh" / "LC_MESSAGES" / "messages.po").read_bytes()
        result = app.test_cli_runner().invoke(args=arguments)
        assert result.exit_code == 1 and "run `flask cms i18n extract` first" in result.output
        assert (catalog_dir / "zh" / "LC_MESSAGES" / "messages.po").read_bytes() == before


def test_i18n_extract_writes_the_template_where_update_reads_it(app, catalog_dir, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_SOURCE_DIR", str(catalog_dir))
    (catalog_dir / "messages.pot").unlink()
    result = app.test_cli_runner().invoke(args=["cms", "i18n", "extract"])
    assert result.exit_code == 0 and f"Wrote {catalog_dir / 'messages.pot'}" in result.output
    assert "Latest posts" in (catalog_dir / "messages.pot").read_text()


def test_export_comments_to_a_path_the_disk_refuses_names_the_path_and_the_reason(app, users):
    """It said the exports folder (which the command never uses) could not be written to, after a traceback."""
    target = "/proc/out.csv"  # refused to every account, root's too (a folder's mode is not)
    result = app.test_cli_runner().invoke(args=["cms", "export-comments", target])
    assert result.exit_code == 1
    assert f"The export was not written to {target}: " in result.output and "exports folder" not in result.output


def test_export_comments_takes_the_statuses_as_the_readme_writes_them_and_refuses_bad_options(app, users, tmp_path):
    post = make_post(users["author"], "published")
    db.session.add(Comment(body="Waiting", body_html="<p>Waiting</p>", author_id=users["reader"].id, post_id=post.id))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cms", "export-comments", str(tmp_path / "out.csv"), "--status", "pending"])
    assert result.exit_code == 0 and "Wrote 1 rows" in result.output
    for args, message in (
        (["--locale", "xx"], "one of the site's languages"),
        (["--status", "PENDING"], "'PENDING' is not one of 'pending', 'approved', 'hidden'"),
    ):
        result = runner.invoke(args=["cms", "export-comments", str(tmp_path / "other.csv"), *args])
        assert result.exit_code == 2 and message in result.output, args
    result = runner.invoke(args=["cms", "export-comments", str(tmp_path / "missing" / "out.csv")])
    assert result.exit_code == 2 and "there is no folder" in result.output
    assert not (tmp_path / "other.csv").exists()


def test_a_seed_that_cannot_seed_comments_writes_nothing(app):
    """The users were committed, then the comments failed, and each retry added as many users again."""
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(
            args=["cms", "seed", "--users", "3", "--posts", "0", "--comments", "5", "--follows", "0"]
        )
        assert result.exit_code == 1 and "Seeding comments needs published posts" in result.output
    assert count(User) == len(DEFAULT_ROLES)  # the demo accounts only


def test_a_seed_of_a_few_posts_all_drawn_unpublished_still_seeds_their_comments(app):
    """--posts 1 drew a draft: the comments then refused ("needs published posts") after the post was written, and
    running the seed again skipped, as the database held a post."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cms", "seed", "--users", "0", "--posts", "1", "--comments", "5", "--follows", "0"])
    assert result.exit_code == 0, result.output
    assert fresh(sa.select(sa.func.count()).select_from(Post).where(Post.is_live)).scalar() >= 1
    assert count(Comment) >= 5
    assert runner.invoke(args=["cms", "check-counts"]).exit_code == 0


def test_a_seed_that_fails_half_way_leaves_the_stored_counts_exact(app, monkeypatch):
    """The bulk inserts pass the counting hooks and the seed recounted only at its end: the posts committed before a
    failure were missing from the post list's count."""
    from cms import seed

    def refused(*args, **kwargs):
        raise ValueError("the comments could not be seeded")

    monkeypatch.setattr(seed, "_seed_comments", refused)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cms", "seed", "--users", "2", "--posts", "30", "--comments", "5", "--follows", "0"])
    assert result.exit_code == 1 and "the comments could not be seeded" in result.output
    assert count(Post) >= 30
    check = runner.invoke(args=["cms", "check-counts"])
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize(
    "username, message",
    [("news/desk", "letters, digits"), ("a b", "letters, digits"), ("x" * 65, "at most 64 characters")],
)
def test_create_user_holds_usernames_to_the_consoles_rule(app, username, message):
    result = app.test_cli_runner().invoke(
        args=["cms", "create-user", "w@example.com", "--password", "a-long-password", "--username", username]
    )
    assert result.exit_code == 1 and message in result.output and count(User) == 0


def test_create_user_makes_a_username_of_the_address_it_may_hold(app):
    result = app.test_cli_runner().invoke(
        args=["cms", "create-user", "john+news@example.com", "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    assert fresh(sa.select(User.username)).scalar() == "johnnews"


def test_jobs_refuses_a_limit_past_its_largest(app):
    result = app.test_cli_runner().invoke(args=["cms", "jobs", "--limit", "10001"])
    assert result.exit_code == 2 and "10001 is not in the range" in result.output
