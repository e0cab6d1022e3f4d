"""Steps the browser tests share."""

from urllib.parse import urlsplit

from tests.support.web import PASSWORD, TOTP_KEY, totp_code


def sign_in(page, email: str, password: str = PASSWORD, totp_key: str = TOTP_KEY) -> None:
    """Sign in through the form, typing the authenticator's code when the second step asks for it."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")
    if urlsplit(page.url).path == "/tf-validate":
        page.fill("#code", totp_code(totp_key))
        page.click("form[name=two_factor_verify_code_form] [type=submit]")
        page.wait_for_url(lambda url: urlsplit(url).path not in ("/tf-validate", "/login"))
