"""The pages in a real headless Chromium (Debian's, driven by Playwright).

Logs in through the form, opens the summary, a classifier's metrics and an
object page against pytest-django's live server, checks the numbers shown
against the database and that every Plotly chart rendered an SVG, and saves
screenshots to the test artifacts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import broker_message_v0_9, load_metrics_data, mark_sent, ms, store_kafka_messages
from tests.elasticc.pages.browser import assert_plotly_svg, db_count, shown_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_summary_classifier_and_object_pages(page, artifacts_dir):
    ids = load_metrics_data()
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
    # One zero-filled panel per kind, each its own trace; the median and 95th percentile beside it.
    assert page.locator("#chart-delays .scatterlayer .trace").count() == 3
    assert page.locator("#chart-delays .cartesianlayer .subplot").count() == 3
    for kind, low in (("broker", 10.0), ("ours", 10**0.3), ("total", 10.0)):
        row = page.locator(f'#delay-quantiles tr[data-kind="{kind}"]')
        assert int(row.locator('[data-key="n"]').get_attribute("data-count")) == 6
        assert float(row.locator('[data-key="median"]').get_attribute("data-low")) == pytest.approx(low)
        assert float(row.locator('[data-key="p95"]').get_attribute("data-low")) == pytest.approx(low)
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
    # Completeness is by simulated night by default: ticks are whole MJDs, not dates nor "60k".
    ticks = page.locator("#chart-completeness .xtick text").all_text_contents()
    assert ticks
    assert all(t.isdigit() and 59990 < int(t) < 60010 for t in ticks), ticks
    # The control next to the chart switches to the send day: ticks are whole dates, not times of day.
    page.select_option("#id_axis", "sent")
    page.wait_for_url("**axis=sent**")
    assert_plotly_svg(page, "chart-completeness")
    ticks = page.locator("#chart-completeness .xtick text").all_text_contents()
    assert ticks
    assert all(len(t) == 10 and t[4] == "-" for t in ticks), ticks
    assert page.locator("#id_axis").input_value() == "sent"
    # Selecting "best over all alerts" reloads with that choice applied.
    page.select_option("#id_mode", "best")
    page.wait_for_url("**mode=best**")
    assert_plotly_svg(page, "chart-confusion")
    assert page.locator("#id_mode").input_value() == "best"
    assert page.locator("#id_axis").input_value() == "sent"  # the completeness choice is kept
    # And the matrix of what was known 1 day after first detection.
    page.select_option("#id_mode", "days1")
    page.wait_for_url("**mode=days1**")
    assert_plotly_svg(page, "chart-confusion")
    assert shown_count(page, '[data-key="confusion-objects"]') == objects_with_truth

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
    # Bands in wavelength order with distinct colours; MJD ticks as plain numbers (no "60.0k").
    legend = page.locator("#chart-lightcurve .legendtext").all_text_contents()
    assert [t.split()[0] for t in legend if t.endswith("detection")] == ["g", "r", "i"]
    ticks = page.locator("#chart-lightcurve .xtick text").all_text_contents()
    assert ticks
    assert all("k" not in t for t in ticks), ticks
    page.screenshot(path=str(artifacts_dir / "pages_object.png"), full_page=True)


def test_real_sample_object_page(page, artifacts_dir, sample_snana_dir):
    """An object of the real ELAsTiCC2 sample: its full light curve and a classification history."""
    from elasticc.ingest.snana import load_snana_dirs

    report = load_snana_dirs(dirs=sorted(p for p in sample_snana_dir.iterdir() if p.is_dir()))
    assert not report.files_failed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diaobjectid FROM elasticc_diaalert GROUP BY diaobjectid ORDER BY count(*) DESC, diaobjectid LIMIT 1"
        )
        obj = cursor.fetchone()[0]
        cursor.execute("SELECT alertid, diasourceid FROM elasticc_diaalert WHERE diaobjectid = %s", [obj])
        alerts = cursor.fetchall()
    sent = datetime(2026, 3, 1, tzinfo=UTC)
    mark_sent({alertid: sent for alertid, _ in alerts})
    result = store_kafka_messages(
        [
            broker_message_v0_9(
                alertid,
                {("flat", "-"): {112: 0.6, 121: 0.3, 122: 0.1}},
                source=sourceid,
                broker=("Sample", "1"),
                published_ms=ms(sent),
            )
            for alertid, sourceid in alerts
        ],
        header_ms=ms(sent + timedelta(seconds=30)),
        schema_version="v0_9",
    )
    (classifier,) = result.new_classifiers
    classifierid = classifier.classifierid
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


def test_comparison_table_sorts_expands_and_downloads(page, artifacts_dir):
    ids = load_metrics_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/metrics/?mode=latest&level=exact")
    row_a = page.locator(f'#classifier-list > tbody > tr[data-classifierid="{ids["A"]}"]')
    # Known answers: A (latest, exact) 2 of 3 right, macro F1 (1 + 0 + 0 + 1) / 4; B 1 of 1.
    assert row_a.locator(':scope > [data-key="accuracy"]').inner_text() == "0.667"
    assert row_a.locator(':scope > [data-key="macro_f1"]').inner_text() == "0.500"
    assert row_a.locator(':scope > [data-key="nobjects"]').get_attribute("data-value") == str(
        db_count("SELECT count(*) FROM elasticc_metricsobject WHERE classifierid = %s", [ids["A"]])
    )
    sent = db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
    assert row_a.locator(':scope > [data-key="completeness"]').inner_text() == f"{100 * 6 / sent:.1f} %"
    # Sorting by accuracy: ascending puts A (0.667) before B (1.0), a second click reverses.
    header = page.locator("#classifier-list > thead th", has_text="Accuracy")
    header.click()
    order = page.locator("#classifier-list > tbody > tr").evaluate_all("rows => rows.map(r => r.dataset.classifierid)")
    assert order == [str(ids["A"]), str(ids["B"])]
    header.click()
    order = page.locator("#classifier-list > tbody > tr").evaluate_all("rows => rows.map(r => r.dataset.classifierid)")
    assert order == [str(ids["B"]), str(ids["A"])]
    # Per-class purity and completeness unfold.
    row_a.locator("details.per-class summary").click()
    cls_113 = row_a.locator('details.per-class tr[data-classid="113"]')
    assert cls_113.locator('[data-key="purity"]').inner_text() == "0.000"
    assert cls_113.locator('[data-key="completeness"]').inner_text() == "—"
    page.screenshot(path=str(artifacts_dir / "pages_comparison.png"), full_page=True)
    # The download link gives the same numbers.
    with page.expect_download() as download:
        page.click("#download-csv")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("classifierid,")
    page.select_option("#id_level", "category")
    page.wait_for_url("**level=category**")
    assert row_a.locator(':scope > [data-key="accuracy"]').inner_text() == "1.000"

    page.goto(f"{page.base_url}/elasticc/metrics/compare/?a={ids['A']}&b={ids['B']}")
    for chart in ("chart-confusion-a", "chart-confusion-b", "chart-f1-diff"):
        assert_plotly_svg(page, chart)
    diff = page.locator('#f1-diff tr[data-class^="122 "] [data-key="diff"]').get_attribute("data-value")
    assert float(diff) == -1.0
    page.screenshot(path=str(artifacts_dir / "pages_classifier_pair.png"), full_page=True)
