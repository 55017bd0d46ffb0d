"""The admin truth summary and our 404 page in headless Chromium, on the
hand-made metrics set of tests.builders: objects 1001-1003 have truth
(gentypes 10, 20, 82: classes 111 Ia, 112 Ib/c, 122 M-dwarf Flare), 1004 none."""

from __future__ import annotations

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_metrics_data
from tests.elasticc.pages.browser import db_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_truth_summary_for_admins_only(page_for, admin_user, plain_user, artifacts_dir):
    load_metrics_data()
    refresh_metrics(full=True)
    page = page_for(admin_user)
    page.goto(f"{page.base_url}/elasticc/summary/")
    page.click("text=Truth summary")
    page.wait_for_url("**/elasticc/summary/truth/")
    counts = {
        row.get_attribute("data-classid"): int(row.locator("[data-count]").get_attribute("data-count"))
        for row in page.locator("#truth-counts tbody tr").all()
    }
    assert counts == {"111": 1, "112": 1, "122": 1}
    assert sum(counts.values()) == db_count("SELECT count(*) FROM elasticc_diaobjecttruth")
    rows = {r.get_attribute("data-classid"): r.inner_text() for r in page.locator("#truth-counts tbody tr").all()}
    assert "Ia" in rows["111"]
    assert "10 (1)" in rows["111"]
    assert "82 (1)" in rows["122"]
    assert "3 objects with truth" in page.locator("h1 + p").inner_text()
    page.screenshot(path=str(artifacts_dir / "truth_summary.png"), full_page=True)

    # Without the admin group: no link, and the page itself is a 403 in the site frame.
    other = page_for(plain_user)
    other.goto(f"{other.base_url}/elasticc/summary/")
    assert other.locator("text=Truth summary").count() == 0
    other.expect_status(403)
    response = other.goto(f"{other.base_url}/elasticc/summary/truth/")
    assert response.status == 403
    assert other.locator("nav.navbar").count() == 1
    assert other.locator("#truth-counts").count() == 0


def test_404_page_in_the_site_frame(page, artifacts_dir):
    page.expect_status(404)
    response = page.goto(f"{page.base_url}/elasticc/no-such-page/")
    assert response.status == 404
    assert page.title().endswith("Not found")
    assert page.locator("nav.navbar").count() == 1
    assert "/elasticc/no-such-page/" in page.locator("main, body").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "not_found.png"), full_page=True)
    page.click("text=ELAsTiCC home page")
    page.wait_for_url(f"{page.base_url}/")
    assert page.locator("#elasticc-counts").count() == 1
