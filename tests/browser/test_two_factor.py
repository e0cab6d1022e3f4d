"""Two-factor setup in a real browser: the QR code is drawn, the key beside it gives codes that sign in, and the
recovery codes are shown once."""

import re

import pytest

from cms.accounts import create_user
from tests.support.web import totp_code

pytestmark = pytest.mark.browser


def test_a_new_editor_scans_the_qr_code_signs_in_and_saves_recovery_codes(page, app):
    create_user("new.editor@example.com", "a-long-password", ["Editor"])
    page.goto("/login")
    page.fill("#email", "new.editor@example.com")
    page.fill("#password", "a-long-password")
    page.click("#submit")
    page.wait_for_url("**/tf-setup")
    page.check("input[value=authenticator]")
    page.click("form[name=two_factor_setup_form] [type=submit]")
    page.wait_for_selector("#qrcode")
    assert page.evaluate("document.getElementById('qrcode').naturalWidth") > 0, "the QR code image loads"
    key = re.search(r"[A-Z2-7]{4}(?:-[A-Z2-7]{1,4})+", page.inner_text(".fs-center")).group(0).replace("-", "")

    page.fill("#code", totp_code(key))
    page.click("form[name=two_factor_verify_code_form] [type=submit]")
    page.wait_for_url("**/mf-recovery-codes")
    page.click("#generate_new_codes")
    page.wait_for_selector(".recovery-codes code")
    assert page.locator(".recovery-codes code").count() == 8
    page.screenshot(path="/tmp/browser-recovery-codes.png", full_page=True)

    page.goto("/admin/")
    assert page.url.endswith("/admin/")
    assert page.locator("text=Set up two-factor sign-in").count() == 0
