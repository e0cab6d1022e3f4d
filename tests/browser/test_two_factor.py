"""Two-factor setup in a real browser: the QR code is drawn, the key beside it gives codes that sign in, and the
recovery codes are shown once."""

import pytest

from cms.accounts import create_user
from tests.support.browser import enrol_authenticator

pytestmark = pytest.mark.browser


def test_a_new_editor_scans_the_qr_code_signs_in_and_saves_recovery_codes(page, app):
    create_user("new.editor@example.com", "a-long-password", ["Editor"])
    drawn = []

    def at(state: str) -> None:
        if state == "/tf-setup, QR code shown":
            drawn.append(page.evaluate("document.getElementById('qrcode').naturalWidth") > 0)

    enrol_authenticator(page, "new.editor@example.com", "a-long-password", at=at)
    assert drawn == [True], "the QR code image loads"
    assert page.locator(".recovery-codes code").count() == 8
    page.screenshot(path="/tmp/browser-recovery-codes.png", full_page=True)

    page.goto("/admin/")
    assert page.url.endswith("/admin/")
    assert page.locator("text=Set up two-factor sign-in").count() == 0
