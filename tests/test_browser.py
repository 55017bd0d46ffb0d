"""The pages in a real headless Chromium (Debian's, driven by Playwright).

Logs in through the form, opens the summary, a classifier's metrics and an
object page against pytest-django's live server, checks the numbers shown
against the database and that every Plotly chart rendered an SVG, and saves
screenshots to the test artifacts.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from elasticc.metrics import refresh_metrics
from tests.conftest import PASSWORD
from tests.test_pages import load_fixture_data

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between page loads are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


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
def page(browser, live_server, admin_user):
    """A logged-in page (through the login form) that fails the test on any JS error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", admin_user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.base_url = live_server.url
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def db_count(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def shown_count(page, selector: str) -> int:
    return int(page.locator(selector).first.get_attribute("data-count"))


def assert_plotly_svg(page, chart_id: str) -> None:
    """The Plotly div rendered its SVG (waits for the client-side plot)."""
    page.wait_for_selector(f"#{chart_id}.js-plotly-plot svg.main-svg", timeout=15_000)


def test_summary_classifier_and_object_pages(page, artifacts_dir):
    ids = load_fixture_data()
    refresh_metrics(full=True)
    base = page.base_url

    page.goto(f"{base}/elasticc/summary/")
    assert page.locator("nav.navbar").count() == 1
    assert page.locator("#login-buttons").inner_text().strip() != ""
    expected = {
        "objects": db_count("SELECT count(*) FROM elasticc_diaobject"),
        "sources": db_count("SELECT count(*) FROM elasticc_diasource"),
        "forced": db_count("SELECT count(*) FROM elasticc_diaforcedsource"),
        "alerts_sent": db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL"),
        "alerts_unsent": db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NULL"),
        "messages": db_count("SELECT count(*) FROM elasticc_brokermessage"),
        "classifications": db_count("SELECT count(*) FROM elasticc_brokerclassification"),
    }
    shown = {key: shown_count(page, f'#summary-counts [data-key="{key}"]') for key in expected}
    assert shown == expected
    row = f'#summary-classifiers tr[data-classifierid="{ids["A"]}"]'
    assert shown_count(page, f'{row} [data-key="nclassifications"]') == db_count(
        "SELECT count(*) FROM elasticc_brokerclassification WHERE classifierid = %s", [ids["A"]]
    )
    assert shown_count(page, f'{row} [data-key="nmessages"]') == db_count(
        "SELECT count(DISTINCT brokermessageid) FROM elasticc_brokerclassification WHERE classifierid = %s",
        [ids["A"]],
    )
    page.screenshot(path=str(artifacts_dir / "pages_summary.png"), full_page=True)

    page.click(f"{row} a")
    page.wait_for_url(f"**/elasticc/metrics/{ids['A']}/")
    for chart in ("chart-confusion", "chart-delays", "chart-completeness", "chart-trueprob"):
        assert_plotly_svg(page, chart)
    assert page.locator("#chart-delays .scatterlayer .trace").count() == 3
    objects_with_truth = db_count(
        "SELECT count(DISTINCT a.diaobjectid) FROM elasticc_brokerclassification c "
        "JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid "
        "JOIN elasticc_diaalert a ON a.alertid = m.alertid "
        "JOIN elasticc_diaobjecttruth t ON t.diaobjectid = a.diaobjectid WHERE c.classifierid = %s",
        [ids["A"]],
    )
    assert shown_count(page, '[data-key="confusion-objects"]') == objects_with_truth
    # Confusion matrix cells are labelled with their object counts.
    cells = page.locator("#chart-confusion .heatmaplayer text").all_text_contents()
    assert sorted(text for text in cells if text) == ["1", "1", "1"]
    page.screenshot(path=str(artifacts_dir / "pages_classifier.png"), full_page=True)
    # Selecting "best over all alerts" reloads with that choice applied.
    page.select_option("#id_mode", "best")
    page.wait_for_url("**mode=best**")
    assert_plotly_svg(page, "chart-confusion")
    assert page.locator("#id_mode").input_value() == "best"

    page.goto(f"{base}/elasticc/object/?diaobjectid=1001")
    page.wait_for_url("**/elasticc/object/1001/")
    assert_plotly_svg(page, "chart-lightcurve")
    assert shown_count(page, '[data-key="forced"]') == db_count(
        "SELECT count(*) FROM elasticc_diaforcedsource WHERE diaobjectid = 1001"
    )
    # one trace per band and kind: g, r, i detections and the forced points (all in 'griz')
    assert page.locator("#chart-lightcurve .scatterlayer .trace").count() == 4
    for classifierid in ids.values():
        assert_plotly_svg(page, f"chart-history-{classifierid}")
    assert shown_count(page, '[data-key="classifications"]') == db_count(
        "SELECT count(*) FROM elasticc_brokerclassification c JOIN elasticc_brokermessage m "
        "ON m.brokermessageid = c.brokermessageid JOIN elasticc_diaalert a ON a.alertid = m.alertid "
        "WHERE a.diaobjectid = 1001"
    )
    assert "gentype 10" in page.locator("#truth").inner_text()
    page.screenshot(path=str(artifacts_dir / "pages_object.png"), full_page=True)


def test_real_sample_object_page(page, artifacts_dir, sample_snana_dir):
    """An object of the real ELAsTiCC2 sample: its full light curve and a classification history."""
    from elasticc.snana_loader import load_snana_dirs

    report = load_snana_dirs(dirs=sorted(p for p in sample_snana_dir.iterdir() if p.is_dir()))
    assert not report.files_failed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diaobjectid FROM elasticc_diaalert GROUP BY diaobjectid ORDER BY count(*) DESC, diaobjectid LIMIT 1"
        )
        obj = cursor.fetchone()[0]
        sent = datetime(2026, 3, 1, tzinfo=UTC)
        cursor.execute("UPDATE elasticc_diaalert SET alertsenttimestamp = %s WHERE diaobjectid = %s", [sent, obj])
        cursor.execute(
            "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
            "VALUES ('Sample', '1', 'flat', '-') RETURNING classifierid"
        )
        classifierid = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO elasticc_brokermessage (messagekey, topicname, alertid, diasourceid, msghdrtimestamp) "
            "SELECT 'sample-' || alertid, 'test', alertid, diasourceid, %s FROM elasticc_diaalert "
            "WHERE diaobjectid = %s",
            [sent + timedelta(seconds=30), obj],
        )
        cursor.execute(
            "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
            "SELECT brokermessageid, %s, c.classid, c.p FROM elasticc_brokermessage "
            "CROSS JOIN (VALUES (112, 0.6), (121, 0.3), (122, 0.1)) AS c(classid, p) WHERE topicname = 'test'",
            [classifierid],
        )
    refresh_metrics(full=True)

    page.goto(f"{page.base_url}/elasticc/object/{obj}/")
    assert_plotly_svg(page, "chart-lightcurve")
    assert_plotly_svg(page, f"chart-history-{classifierid}")
    forced = db_count("SELECT count(*) FROM elasticc_diaforcedsource WHERE diaobjectid = %s", [obj])
    assert forced > 0
    assert shown_count(page, '[data-key="forced"]') == forced
    alerts = db_count("SELECT count(*) FROM elasticc_diaalert WHERE diaobjectid = %s", [obj])
    assert page.locator("#object-alerts tbody tr").count() == alerts
    assert page.locator(f"#chart-history-{classifierid} .scatterlayer .trace").count() == 3
    page.screenshot(path=str(artifacts_dir / "pages_sample_object.png"), full_page=True)
