"""Staff two-factor sign-in through the real forms: setup at sign-in, the code step, recovery codes, opting in
and out, the roles that require it, and an administrator's reset."""

import re
import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from cms.accounts import create_user
from cms.extensions import db
from cms.models import AuditLog, Role, User
from cms.seed import DEMO_PASSWORD, DEMO_TOTP_KEY
from tests.support.database import fresh
from tests.support.web import TOTP_KEY, Browserish, authenticator_key, csrf_token, page_errors, totp_code

PASSWORD = "a-long-password"


def start_sign_in(app, email: str, password: str = PASSWORD):
    """A new browser that has given its password: (browser, the path the login form sent it to)."""
    browser = Browserish(app.test_client())
    response = browser.submit("/login", {"email": email, "password": password})
    assert response.status_code == 302, page_errors(response)
    return browser, urlsplit(response.location).path


def landing(browser, response) -> str:
    """The path a browser ends on, following the redirects from `response`."""
    while response.status_code == 302:
        location = response.location
        response = browser.get(location)
    return urlsplit(location).path


def choose_authenticator(browser) -> tuple[str, str]:
    """Choose the authenticator app at /tf-setup: (the page with its QR code, the key it shows)."""
    page = browser.submit("/tf-setup", {"setup": "authenticator"}).get_data(as_text=True)
    return page, authenticator_key(page)


def send_setup_code(browser, page: str, code: str):
    action = re.search(r'<form action="([^"]+)" method="post" name="two_factor_verify_code_form"', page).group(1)
    return browser.post(action, data={"csrf_token": csrf_token(page), "code": code})


def console_status(browser) -> int:
    return browser.get("/admin/").status_code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def tf_columns(user_id: int) -> tuple:
    return fresh(
        sa.select(User.tf_primary_method, User.tf_totp_secret, User.mf_recovery_codes).where(User.id == user_id)
    ).one()


# -- setup at first sign-in ----------------------------------------------------------------------------------


def test_staff_without_a_second_factor_is_sent_to_set_it_up_and_kept_out_of_the_console(app):
    create_user("new.editor@example.com", PASSWORD, ["Editor"])
    browser, step = start_sign_in(app, "new.editor@example.com")
    assert step == "/tf-setup"
    assert console_status(browser) == 302 and browser.get("/admin/").location.startswith("/login")

    setup = browser.get("/tf-setup").get_data(as_text=True)
    assert 'value="authenticator"' in setup and 'value="disable"' not in setup, "a required member cannot opt out"
    page, key = choose_authenticator(browser)
    assert 'id="qrcode" src="data:image/svg+xml;base64,' in page
    assert console_status(browser) == 302, "choosing a method is not enough"

    response = send_setup_code(browser, page, totp_code(key))
    assert response.status_code == 302 and response.location == "/mf-recovery-codes"
    assert "You have no recovery codes. Make them now" in browser.get("/mf-recovery-codes").get_data(as_text=True)
    assert console_status(browser) == 200
    assert tf_columns(fresh(sa.select(User.id).where(User.email == "new.editor@example.com")).scalar())[0] == (
        "authenticator"
    )


def test_a_wrong_setup_code_is_a_form_error_and_nothing_is_stored(app):
    user = create_user("new.moderator@example.com", PASSWORD, ["Moderator"])
    browser, _ = start_sign_in(app, "new.moderator@example.com")
    page, key = choose_authenticator(browser)

    response = send_setup_code(browser, page, wrong(totp_code(key)))
    assert response.status_code == 200
    assert "Invalid code" in response.get_data(as_text=True)
    assert console_status(browser) == 302
    assert tf_columns(user.id) == (None, None, None)

    assert send_setup_code(browser, page, totp_code(key)).status_code == 302
    assert console_status(browser) == 200


def test_a_required_member_cannot_turn_two_factor_off(login_as, users):
    editor = login_as("editor")
    response = editor.submit("/tf-setup", {"setup": "disable"})
    assert "Marked method is not valid" in response.get_data(as_text=True)
    assert tf_columns(users["editor"].id)[0] == "authenticator"


# -- the code step -------------------------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_and_refuses_a_wrong_one(app, users):
    browser, step = start_sign_in(app, users["editor"].email, "correct-horse-battery")
    assert step == "/tf-validate"
    assert console_status(browser) == 302, "a password alone does not sign in"

    refused = browser.submit("/tf-validate", {"code": wrong(totp_code(TOTP_KEY))})
    assert refused.status_code == 200 and "Invalid code" in refused.get_data(as_text=True)
    assert console_status(browser) == 302

    signed_in = browser.submit("/tf-validate", {"code": totp_code(TOTP_KEY)})
    assert landing(browser, signed_in) == "/en/"
    assert console_status(browser) == 200
    assert fresh(sa.select(AuditLog).where(AuditLog.action == "login")).scalar_one().user_id == users["editor"].id


def test_the_code_step_keeps_the_page_asked_for(app, users):
    browser = Browserish(app.test_client())
    response = browser.submit(
        "/login?next=%2Fadmin%2Fcomment%2F", {"email": users["moderator"].email, "password": "correct-horse-battery"}
    )
    assert response.location.startswith("/tf-validate")
    done = browser.submit(response.location, {"code": totp_code(TOTP_KEY)})
    assert done.location == "/admin/comment/"


def test_a_code_is_accepted_within_its_validity_window_and_refused_a_step_later(app, users):
    validity = app.config["SECURITY_TWO_FACTOR_AUTHENTICATOR_VALIDITY"]
    assert validity == 120
    browser, _ = start_sign_in(app, users["editor"].email, "correct-horse-battery")
    late = browser.submit("/tf-validate", {"code": totp_code(TOTP_KEY, at=time.time() - validity - 30)})
    assert late.status_code == 200 and "Invalid code" in late.get_data(as_text=True)
    # 10 s inside the window, so the 30-second step cannot move on between typing and checking.
    on_time = browser.submit("/tf-validate", {"code": totp_code(TOTP_KEY, at=time.time() - validity + 10)})
    assert on_time.status_code == 302
    assert console_status(browser) == 200


def test_the_demo_staff_accounts_sign_in_with_the_printed_key(app):
    result = app.test_cli_runner().invoke(
        args=["cms", "seed", "--users", "0", "--posts", "0", "--comments", "0", "--follows", "0"]
    )
    assert result.exit_code == 0, result.output
    assert DEMO_TOTP_KEY in result.output
    browser, step = start_sign_in(app, "administrator@example.com", DEMO_PASSWORD)
    assert step == "/tf-validate"
    assert browser.submit("/tf-validate", {"code": totp_code(DEMO_TOTP_KEY)}).status_code == 302
    assert console_status(browser) == 200
    assert start_sign_in(app, "author@example.com", DEMO_PASSWORD)[1] == "/", "authors need no second factor"


# -- recovery codes ------------------------------------------------------------------------------------------


def make_recovery_codes(browser) -> list[str]:
    page = browser.submit("/mf-recovery-codes", {"generate_new_codes": "Generate New Recovery Codes"})
    return re.findall(r"<li><code>([0-9a-f-]+)</code></li>", page.get_data(as_text=True))


def sign_in_with_recovery_code(app, email: str, code: str):
    browser, step = start_sign_in(app, email, "correct-horse-battery")
    assert step == "/tf-validate"
    rescue = browser.submit("/tf-rescue", {"help_setup": "recovery_code"})
    assert rescue.status_code == 302 and rescue.location == "/mf-recovery"
    return browser, browser.submit("/mf-recovery", {"code": code})


def test_recovery_codes_are_shown_once_and_each_signs_in_once(app, login_as, users):
    codes = make_recovery_codes(login_as("translator"))
    assert len(codes) == app.config["SECURITY_MULTI_FACTOR_RECOVERY_CODES_N"] == 8
    assert len(set(codes)) == 8
    stored = tf_columns(users["translator"].id)[2]
    assert not set(codes) & set(stored), "the database keeps hashes, not the codes"

    again = login_as("translator").get("/mf-recovery-codes?show_codes=Show+Recovery+Codes").get_data(as_text=True)
    assert not any(code in again for code in codes)
    assert "You have 8 unused recovery codes" in again

    browser, response = sign_in_with_recovery_code(app, users["translator"].email, codes[0].upper().replace("-", " "))
    assert response.status_code == 302, page_errors(response)
    assert console_status(browser) == 200
    assert len(tf_columns(users["translator"].id)[2]) == 7

    browser, response = sign_in_with_recovery_code(app, users["translator"].email, codes[0])
    assert response.status_code == 200 and "Recovery code invalid" in response.get_data(as_text=True)
    assert console_status(browser) == 302
    assert sign_in_with_recovery_code(app, users["translator"].email, codes[1])[1].status_code == 302


def test_each_of_the_n_recovery_codes_signs_in_once_and_then_none_is_offered(app, login_as, users, monkeypatch):
    monkeypatch.setitem(app.config, "SECURITY_MULTI_FACTOR_RECOVERY_CODES_N", 2)
    codes = make_recovery_codes(login_as("translator"))
    assert len(codes) == 2
    for code in codes:
        assert sign_in_with_recovery_code(app, users["translator"].email, code)[1].status_code == 302
    browser, _ = start_sign_in(app, users["translator"].email, "correct-horse-battery")
    assert 'value="recovery_code"' not in browser.get("/tf-validate").get_data(as_text=True)
    assert browser.submit("/mf-recovery", {"code": codes[0]}).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(app, login_as, users):
    translator = login_as("translator")
    old = make_recovery_codes(translator)
    new = make_recovery_codes(translator)
    assert not set(old) & set(new)
    assert sign_in_with_recovery_code(app, users["translator"].email, old[0])[1].status_code == 200
    assert sign_in_with_recovery_code(app, users["translator"].email, new[0])[1].status_code == 302


def test_recovery_codes_are_checked_after_a_new_key_is_added(app, login_as, users, monkeypatch):
    codes = make_recovery_codes(login_as("translator"))
    secrets = {**app.config["SECURITY_TOTP_SECRETS"], "2": "a-newer-totp-secret"}
    monkeypatch.setitem(app.config, "SECURITY_TOTP_SECRETS", secrets)
    assert sign_in_with_recovery_code(app, users["translator"].email, codes[0])[1].status_code == 302


# -- readers opt in and out ----------------------------------------------------------------------------------


def test_a_reader_may_opt_in_and_out(app, login_as, users):
    reader = login_as("reader")  # no code: readers need none
    assert "Two-factor sign-in" in reader.get("/en/profile").get_data(as_text=True)
    setup = reader.get("/tf-setup").get_data(as_text=True)
    assert 'value="disable"' not in setup, "nothing to turn off yet"
    page, key = choose_authenticator(reader)
    response = send_setup_code(reader, page, totp_code(key))
    assert response.status_code == 302 and response.location == "/mf-recovery-codes"
    assert make_recovery_codes(reader)

    browser, step = start_sign_in(app, users["reader"].email, "correct-horse-battery")
    assert step == "/tf-validate", "once set up, the code is asked"
    assert browser.submit("/tf-validate", {"code": totp_code(key)}).status_code == 302

    assert 'value="disable"' in browser.get("/tf-setup").get_data(as_text=True)
    off = browser.submit("/tf-setup", {"setup": "disable"})
    assert off.status_code == 302
    assert tf_columns(users["reader"].id) == (None, None, None), "turning it off drops the recovery codes too"
    assert start_sign_in(app, users["reader"].email, "correct-horse-battery")[1] == "/"


# -- which roles require it ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "role", "first_step"),
    [
        (None, "Reader", "/"),
        (None, "Author", "/"),
        (None, "Editor", "/tf-setup"),
        (None, "Moderator", "/tf-setup"),
        (None, "Translator", "/tf-setup"),
        (None, "Administrator", "/tf-setup"),
        ("Administrator", "Editor", "/"),
        ("Administrator", "Administrator", "/tf-setup"),
        (" author , READER", "Reader", "/tf-setup"),
        (" author , READER", "Moderator", "/"),
        ("", "Administrator", "/"),
    ],
)
def test_the_required_roles_setting_decides_who_must_set_it_up(app, monkeypatch, setting, role, first_step):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_ROLES", setting)
    create_user("member@example.com", PASSWORD, [role])
    browser, step = start_sign_in(app, "member@example.com")
    assert step == first_step
    if step == "/" and role != "Reader":
        assert console_status(browser) == 200, "not required: the console opens without a second factor"


def test_a_member_promoted_while_signed_in_must_set_it_up_before_the_console(app, login_as, users):
    reader = login_as("reader")
    users["reader"].roles.append(db.session.scalar(sa.select(Role).where(Role.name == "Moderator")))
    db.session.commit()
    response = reader.get("/admin/comment/")
    assert response.status_code == 302 and response.location == "/tf-setup"
    assert "Set up two-factor sign-in to use the staff console." in reader.get("/tf-setup").get_data(as_text=True)
    page, key = choose_authenticator(reader)
    assert send_setup_code(reader, page, totp_code(key)).status_code == 302
    assert reader.get("/admin/comment/").status_code == 200


# -- an administrator's reset --------------------------------------------------------------------------------


def reset(browser, *user_ids: int, csrf: bool = True):
    data = {"action": "reset_two_factor", "rowid": [str(i) for i in user_ids]}
    if csrf:
        data["csrf_token"] = browser.csrf()
    return browser.post("/admin/user/action/", data=data)


def test_an_administrator_resets_a_second_factor_and_it_is_audited(app, login_as, users):
    editor = users["editor"]
    signed_in_editor = login_as("editor")
    admin = login_as("administrator")
    assert "Authenticator app" in admin.get("/admin/user/").get_data(as_text=True)

    response = reset(admin, editor.id, users["reader"].id)
    assert response.status_code == 302
    assert "Two-factor sign-in was reset for 1 account." in admin.get(response.location).get_data(as_text=True)
    assert tf_columns(editor.id) == (None, None, None)

    entry = fresh(sa.select(AuditLog).where(AuditLog.action == "reset_two_factor")).scalar_one()
    assert (entry.object_type, entry.object_id, entry.summary) == ("User", str(editor.id), editor.email)
    assert entry.user_id == users["administrator"].id
    assert "reset_two_factor" in admin.get("/admin/audit/").get_data(as_text=True)

    assert signed_in_editor.get("/admin/").location == "/tf-setup", "their open session must set it up again"
    assert start_sign_in(app, editor.email, "correct-horse-battery")[1] == "/tf-setup"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_member_at_the_code_step_when_reset_is_told_and_signs_in_again_to_set_it_up(app, login_as, users, method):
    """Flask-Security refused every code of a member whose second factor was reset after their password, and said
    nothing: they are sent back to sign in, told why, and that sign-in sets up a new one."""
    editor = users["editor"]
    browser = Browserish(app.test_client())
    code_step = browser.submit(
        "/login?next=%2Fadmin%2Fpost%2F", {"email": editor.email, "password": "correct-horse-battery"}
    ).location
    token = browser.token_for(code_step)  # the code form, open in the member's browser
    assert reset(login_as("administrator"), editor.id).status_code == 302

    if method == "GET":
        response = browser.get(code_step)
    else:
        response = browser.post(code_step, data={"csrf_token": token, "code": totp_code(TOTP_KEY)})
    assert response.status_code == 302 and response.location.startswith("/login")
    page = browser.get(response.location).get_data(as_text=True)
    assert "Your two-factor sign-in was reset by an administrator. Sign in again to set it up." in page
    assert console_status(browser) == 302
    assert browser.get(code_step).location.startswith("/login"), "the code step is over"

    again = browser.submit(response.location, {"email": editor.email, "password": "correct-horse-battery"})
    assert urlsplit(again.location).path == "/tf-setup"


@pytest.mark.parametrize("role", ["editor", "moderator", "translator", "author", "reader"])
def test_only_administrators_may_reset_a_second_factor(login_as, users, role):
    assert reset(login_as(role), users["editor"].id).status_code == 403
    assert tf_columns(users["editor"].id)[0] == "authenticator"


def test_a_reset_without_the_csrf_token_is_refused(login_as, users):
    assert reset(login_as("administrator"), users["editor"].id, csrf=False).status_code == 400
    assert tf_columns(users["editor"].id)[0] == "authenticator"
    assert (
        fresh(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "reset_two_factor")).scalar()
        == 0
    )


def test_an_authenticator_enrolled_after_another_app_was_made_is_read_with_its_own_apps_secrets(app, users, tmp_path):
    """Each app keeps its own Security object: making a second app (other secrets) must not change the checker the
    first one stores keys with, or another process of the first app (a gunicorn worker, the export worker) could not
    read them, and the code its owner types would be refused."""
    from cms import create_app
    from cms.two_factor import enrol_authenticator
    from cms.two_factor_secrets import CmsTotp

    other = create_app("testing", DATABASE_URL=f"sqlite:///{tmp_path}/other.db", SECURITY_TOTP_SECRETS={"1": "other"})
    assert other.extensions["security"] is not app.extensions["security"]
    user = create_user("late.editor@example.com", PASSWORD, ["Editor"])
    enrol_authenticator(user, TOTP_KEY)

    stored = fresh(sa.select(User.tf_totp_secret).where(User.id == user.id)).scalar()
    same_app_elsewhere = CmsTotp(app.config["SECURITY_TOTP_SECRETS"], app.config["SECURITY_TOTP_ISSUER"])
    assert same_app_elsewhere.verify_totp(token=totp_code(), totp_secret=stored, user=user, window=1)
    browser, step = start_sign_in(app, "late.editor@example.com")
    assert step == "/tf-validate"
    response = browser.submit("/tf-validate", {"code": totp_code()})
    assert landing(browser, response) not in ("/tf-validate", "/login")
