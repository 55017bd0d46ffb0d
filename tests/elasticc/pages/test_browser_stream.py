"""The stream status page in headless Chromium, on the hand-made metrics set
(tests.builders): alerts sent on nights 60000 (4) and 60002 (3), none on
60001. Ticks are whole nights, each once; bars are one night wide; the
empty night is drawn as 0 in both charts; the numbers are the database's."""

from __future__ import annotations

from itertools import pairwise

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_metrics_data
from tests.elasticc.pages.browser import assert_plotly_svg, db_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _per_night(sql: str, params: list | None = None) -> dict[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return {night: n for night, n in cursor.fetchall()}


def test_stream_charts_whole_nights_and_database_numbers(page, artifacts_dir):
    ids = load_metrics_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/stream/")
    for chart in ("chart-stream-alerts", "chart-stream-messages"):
        assert_plotly_svg(page, chart)
    page.screenshot(path=str(artifacts_dir / "stream_whole_nights.png"), full_page=True)

    # Tick labels: whole nights, each once, one night apart (not "60000 60000 60001 60001").
    for chart in ("chart-stream-alerts", "chart-stream-messages"):
        labels = [t.replace(",", "") for t in page.locator(f"#{chart} .xtick text").all_text_contents()]
        nights = [int(t) for t in labels]
        assert len(nights) == len(set(nights)) >= 3, labels
        assert {b - a for a, b in pairwise(nights)} == {1}, labels
        assert {60000, 60001, 60002} <= set(nights)

    # Bars at most one night wide (and not a sliver): measured against the ticks' spacing.
    tick_x = page.locator("#chart-stream-alerts .xtick text").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).map(r => r.x + r.width / 2)"
    )
    night_px = (tick_x[-1] - tick_x[0]) / (len(tick_x) - 1)
    bar_widths = page.locator("#chart-stream-alerts .bars path").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).filter(r => r.height > 0).map(r => r.width)"
    )
    assert len(bar_widths) == 2  # nights 60000 and 60002; 60001 is a bar of height 0
    for width in bar_widths:
        assert 0.5 * night_px < width <= 1.0 * night_px + 1, (width, night_px)

    # The numbers drawn are the database's, the empty night a 0 in every series.
    sent = _per_night(
        "SELECT floor(s.midpointtai)::int, count(*) FROM elasticc_diaalert a "
        "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
        "WHERE a.alertsenttimestamp IS NOT NULL GROUP BY 1"
    )
    alerts = page.evaluate("() => document.getElementById('chart-stream-alerts').data[0]")
    assert dict(zip(alerts["x"], alerts["y"], strict=True)) == {60000: sent[60000], 60001: 0, 60002: sent[60002]}
    assert sum(alerts["y"]) == db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
    traces = page.evaluate(
        "() => document.getElementById('chart-stream-messages').data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    assert len(traces) == 2
    for classifier in ("A", "B"):
        stored = _per_night(
            "SELECT floor(s.midpointtai)::int, count(DISTINCT m.brokermessageid) FROM elasticc_brokerclassification c "
            "JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid "
            "JOIN elasticc_diaalert a ON a.alertid = m.alertid "
            "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid WHERE c.classifierid = %s GROUP BY 1",
            [ids[classifier]],
        )
        trace = next(t for t in traces if f" {classifier} " in f"{t['name']} ")
        assert dict(zip(trace["x"], trace["y"], strict=True)) == {n: stored.get(n, 0) for n in (60000, 60001, 60002)}
    assert page.locator('[data-key="nights"]').get_attribute("data-count") == "3"
