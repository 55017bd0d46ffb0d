"""Fixtures of the browser tests: headless Debian Chromium (Playwright) and
logged-in pages that fail the test on any JavaScript or console error and on
any request leaving the live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User

from tests.builders import PASSWORD
from tests.elasticc.pages.browser import CHROMIUM, CHROMIUM_ARGS

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between page loads are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(browser, live_server) -> Iterator[Callable[[User], object]]:
    """`page_for(user)`: a page logged in as `user` (through the login form)
    that fails the test on any JS error, console error or external request.
    A test that opens an error page on purpose says so with
    `page.expect_status(400)`: one "status of 400" console error is then expected."""
    contexts = []
    errors: list[str] = []
    expected: list[str] = []

    def make(user: User):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Everything is vendored: no request may leave the live server.
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:"))
                else errors.append(f"external request {request.url}")
            ),
        )
        # Content-Security-Policy violations are console errors, not page errors.
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/accounts/login/" not in page.url, f"login as {user.username} failed"
        page.base_url = live_server.url
        page.expect_status = lambda status: expected.append(f"the server responded with a status of {status} ")
        return page

    yield make
    for context in contexts:
        context.close()
    for text in expected:
        match = next((e for e in errors if text in e), None)
        assert match is not None, f"expected a console error with {text!r}: {errors}"
        errors.remove(match)
    assert errors == [], f"JavaScript or console errors: {errors}"


@pytest.fixture
def page(page_for, admin_user):
    """A page logged in as a member of elasticc_admin (sees truth)."""
    return page_for(admin_user)
