"""The classifier page's controls in headless Chromium, on the hand-made
metrics set of tests.builders (classifier A): each control changes what its
chart draws, to numbers worked out by hand, and keeps the other choices.

A, latest, exact: 1001 111 -> 111, 1002 112 -> 113, 1003 122 -> 122 (1004
has no truth); category: 11 SN-like -> 11 twice, 12 Fast -> 12. Alerts sent
on nights 60000 (4, A answered 4) and 60002 (3, A answered 2); six messages
stored, two of them on 2026-01-02 (the others on 2026-01-01)."""

from __future__ import annotations

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_metrics_data
from tests.elasticc.pages.browser import assert_plotly_svg, shown_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _trace(page, chart_id: str) -> dict:
    return page.evaluate(f"() => (({{x, y, z}}) => ({{x, y, z}}))(document.getElementById('{chart_id}').data[0])")


def _ids(labels: list[str]) -> list[int]:
    return [int(label.split()[0]) for label in labels]


def _choose(page, selector: str, value: str, expect: str) -> None:
    page.select_option(selector, value)
    page.wait_for_url(f"**{expect}**")
    assert_plotly_svg(page, "chart-completeness")


def _delay_messages(page) -> int:
    return shown_count(page, '#delay-quantiles tr[data-kind="broker"] [data-key="n"]')


def test_norm_level_axis_period_and_windows(page, artifacts_dir):
    ids = load_metrics_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/metrics/{ids['A']}/")
    assert_plotly_svg(page, "chart-confusion")
    # Normalised by true class by default: each row sums to 1.
    confusion = _trace(page, "chart-confusion")
    assert _ids(confusion["y"]) == [111, 112, 122]
    assert _ids(confusion["x"]) == [111, 112, 113, 122]
    assert [sum(row) for row in confusion["z"]] == [1.0, 1.0, 1.0]

    # norm: counts.
    _choose(page, "#id_norm", "none", "norm=none")
    assert _trace(page, "chart-confusion")["z"] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert "not at all (counts)" in page.content()
    # level: category, still counts.
    _choose(page, "#id_level", "category", "level=category")
    confusion = _trace(page, "chart-confusion")
    assert (_ids(confusion["y"]), _ids(confusion["x"]), confusion["z"]) == ([11, 12], [11, 12], [[2, 0], [0, 1]])
    assert page.locator("#id_norm").input_value() == "none"
    # norm: by predicted class, columns sum to 1.
    _choose(page, "#id_norm", "pred", "norm=pred")
    assert _trace(page, "chart-confusion")["z"] == [[1, 0], [0, 1]]
    page.screenshot(path=str(artifacts_dir / "classifier_controls_confusion.png"), full_page=True)

    # Completeness per simulated night, then per week of nights (from Monday: 60000 is a Saturday).
    completeness = _trace(page, "chart-completeness")
    assert completeness["x"] == [60000, 60002]
    assert completeness["y"] == pytest.approx([1.0, 2 / 3])
    _choose(page, "#id_period", "week", "period=week")
    assert _trace(page, "chart-completeness")["x"] == [59995, 60002]
    assert page.locator("#id_level").input_value() == "category"  # the confusion choices are kept
    _choose(page, "#id_period", "day", "period=day")
    # The MJD window beside the chart: whole nights from floor(60001.5).
    page.fill("#id_mjd_min", "60001.5")
    page.click("#completeness-form button[type=submit]")
    page.wait_for_url("**mjd_min=60001.5**")
    assert_plotly_svg(page, "chart-completeness")
    assert _trace(page, "chart-completeness")["x"] == [60002]
    assert page.locator("#id_mjd_min").input_value() == "60001.5"
    assert "nights from MJD 60001.500 to the last" in page.locator("#completeness-axis").inner_text()

    # The date window beside the delays: messages stored from 2026-01-02 only; the confusion matrix keeps all.
    assert _delay_messages(page) == 6
    assert "confusion matrix and the probability of the true class cover every day" in (
        page.locator("#date-window-note").inner_text()
    )
    page.fill("#id_start", "2026-01-02")
    page.click("#delays-form button[type=submit]")
    page.wait_for_url("**start=2026-01-02**")
    assert_plotly_svg(page, "chart-delays")
    assert _delay_messages(page) == 2
    assert shown_count(page, '[data-key="confusion-objects"]') == 3
    assert _trace(page, "chart-completeness")["x"] == [60002]  # the night axis ignores the date window
    assert page.locator("#id_mjd_min").input_value() == "60001.5"
    # Completeness by send day: the same date window beside it (one day, 2026-01-02: 3 sent, 2 answered).
    _choose(page, "#id_axis", "sent", "axis=sent")
    completeness = _trace(page, "chart-completeness")
    assert completeness["x"] == ["2026-01-02"]
    assert completeness["y"] == pytest.approx([2 / 3])
    assert page.locator("#completeness-id_start").input_value() == "2026-01-02"
    assert page.locator("#id_mjd_min").count() == 0
    page.fill("#completeness-id_start", "")
    page.click("#completeness-form button[type=submit]")
    page.wait_for_url(lambda url: "start=&" in url or url.endswith("start="))
    assert_plotly_svg(page, "chart-completeness")
    assert _trace(page, "chart-completeness")["x"] == ["2026-01-01", "2026-01-02"]
    assert _delay_messages(page) == 6
    for control, value in (("#id_mode", "latest"), ("#id_level", "category"), ("#id_norm", "pred")):
        assert page.locator(control).input_value() == value
    page.screenshot(path=str(artifacts_dir / "classifier_controls_windows.png"), full_page=True)
