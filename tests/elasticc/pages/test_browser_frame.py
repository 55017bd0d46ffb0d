"""The site frame and the object page's flux / magnitude views in headless
Chromium (fixtures of conftest.py: logged-in admin page failing on any
console error or external request)."""

from __future__ import annotations

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_metrics_data
from tests.elasticc.pages.browser import assert_plotly_svg

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_home_navbar_and_api_docs(page, artifacts_dir):
    load_metrics_data()
    refresh_metrics(full=True)
    base = page.base_url
    page.goto(f"{base}/")
    assert page.locator("#elasticc-counts").count() == 1
    labels = [t.strip() for t in page.locator("nav.navbar .navbar-nav.me-auto .nav-link").all_text_contents()]
    assert labels[:7] == ["Summary", "Classifiers", "Objects", "Follow-up", "Stream", "SQL", "API docs"]
    page.screenshot(path=str(artifacts_dir / "frame_home.png"), full_page=True)
    for label, path in (("Summary", "/elasticc/summary/"), ("SQL", "/elasticc/sql/")):
        page.goto(f"{base}/")
        page.click(f"nav.navbar >> text={label}")
        page.wait_for_url(f"**{path}")
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector("#swagger-ui .opblock", timeout=20_000)
    assert page.locator("nav.navbar").count() == 1
    page.screenshot(path=str(artifacts_dir / "frame_api_docs.png"))
    page.click("text=Back to ELAsTiCC")
    page.wait_for_url(f"{base}/")


def test_object_page_flux_and_magnitude(page, artifacts_dir):
    load_metrics_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/object/1001/")
    assert_plotly_svg(page, "chart-lightcurve")
    assert page.locator("#chart-lightcurve").get_attribute("data-units") == "flux"
    assert "psFlux" in page.locator("#chart-lightcurve .g-ytitle").text_content()
    page.click("label[for=lc-mag]")
    page.wait_for_selector("#chart-lightcurve[data-units=mag]")
    assert "AB magnitude" in page.locator("#chart-lightcurve .g-ytitle").text_content()
    # Brighter is up: the magnitude axis is reversed.
    ticks = [float(t.replace("\u2212", "-")) for t in page.locator("#chart-lightcurve .ytick text").all_text_contents()]
    assert ticks == sorted(ticks, reverse=True) or len(ticks) < 2
    page.screenshot(path=str(artifacts_dir / "object_magnitudes.png"), full_page=True)
    page.click("label[for=lc-flux]")
    page.wait_for_selector("#chart-lightcurve[data-units=flux]")


def test_stream_page_and_confusion_cell_drill_down(page, artifacts_dir):
    ids = load_metrics_data()
    refresh_metrics(full=True)
    base = page.base_url
    page.goto(f"{base}/elasticc/stream/")
    for chart in ("chart-stream-alerts", "chart-stream-messages"):
        assert_plotly_svg(page, chart)
    page.screenshot(path=str(artifacts_dir / "stream_status.png"), full_page=True)
    page.goto(f"{base}/elasticc/metrics/{ids['A']}/")
    assert_plotly_svg(page, "chart-confusion")
    # Click the first labelled (non-empty) cell: its objects are listed.
    page.evaluate(
        """() => {
          const gd = document.getElementById("chart-confusion");
          const trace = gd.data[0];
          for (let i = 0; i < trace.y.length; i++) for (let j = 0; j < trace.x.length; j++) {
            if (trace.customdata[i][j]) {
              gd.emit("plotly_click", {points: [{x: trace.x[j], y: trace.y[i]}]});
              return;
            }
          }
        }"""
    )
    page.wait_for_url("**/elasticc/objects/**")
    assert int(page.locator("#objects-count").get_attribute("data-count")) >= 1
    page.locator("#objects-table tbody a").first.click()
    page.wait_for_url("**/elasticc/object/*/")
    page.screenshot(path=str(artifacts_dir / "drill_down_object.png"))
