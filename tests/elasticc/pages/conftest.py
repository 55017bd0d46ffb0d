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

    - `page.expect_status(400)`: the test opens an error page on purpose; one
      "status of 400" console error is then expected (and required).
    - `page.tolerate_errors_on(path, reason)`: a page that is not ours and
      is known to break the rule (TOM Toolkit's target page); its errors
      are set aside, and required, so the allowance goes when it is fixed.
    - `page.open_tab()`: another tab of the same session, watched the same way.
    """
    contexts = []
    errors: list[str] = []
    expected: list[str] = []
    tolerated: dict[str, list[str]] = {}

    def record(page, error: str) -> None:
        path = page.url.removeprefix(live_server.url)
        prefix = next((p for p in tolerated if path.startswith(p)), None)
        (tolerated[prefix] if prefix is not None else errors).append(error)

    def watch(page):
        page.on("pageerror", lambda exc: record(page, str(exc)))
        # Everything is vendored: no request may leave the live server.
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:"))
                else record(page, f"external request {request.url}")
            ),
        )
        # Content-Security-Policy violations are console errors, not page errors.
        page.on("console", lambda message: record(page, message.text) if message.type == "error" else None)
        page.base_url = live_server.url
        page.expect_status = lambda status: expected.append(f"the server responded with a status of {status} ")
        page.tolerate_errors_on = lambda path, reason: tolerated.setdefault(path, [])
        page.open_tab = lambda: watch(page.context.new_page())
        return page

    def make(user: User):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = watch(context.new_page())
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/accounts/login/" not in page.url, f"login as {user.username} failed"
        return page

    yield make
    for context in contexts:
        context.close()
    for text in expected:
        match = next((e for e in errors if text in e), None)
        assert match is not None, f"expected a console error with {text!r}: {errors}"
        errors.remove(match)
    assert errors == [], f"JavaScript or console errors: {errors}"
    for path, seen in tolerated.items():
        assert seen, f"{path} gave no error any more: drop its tolerate_errors_on"


@pytest.fixture
def page(page_for, admin_user):
    """A page logged in as a member of elasticc_admin (sees truth)."""
    return page_for(admin_user)
