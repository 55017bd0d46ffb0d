"""The A-vs-B classifier view (/elasticc/metrics/compare/) in headless
Chromium, on the three-class set of tests.builders (nine objects, three per
true class; classifiers P and Q): classifiers, mode and level chosen with the
page's controls, both confusion matrices drawn, and the per-class F1 table
and bar chart against F1 values worked out by hand.

F1 of a class is 2 TP / (predicted + true). Predictions (object: class):
  P latest, days10, days30 (its answer to source 2, day 5):
      3001-3003: 111 111 112, 3004-3006: 112 112 111, 3007-3009: 121 121 121
  P days1, days3 (only source 0 is that early):
      3001-3003: 112 111 112, 3004-3006: 111 112 112, 3007-3009: 121 111 121
  P best (the higher top probability of its two answers):
      3001-3003: 111 111 112, 3004-3006: 112 112 112, 3007-3009: 121 121 121
  Q, every mode (one answer per object):
      3001-3003: 111 111 111, 3004-3006: 112 121 121, 3007-3009: 121 112 121
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_three_class_data
from tests.elasticc.pages.browser import assert_plotly_svg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAMES = {111: "Ia", 112: "Ib/c", 121: "KN", 11: "SN-like", 12: "Fast", 1: "Non-Recurring"}
# (mode, level) -> {class: (F1 of P, F1 of Q)}
P_LATEST = {111: F(2, 3), 112: F(2, 3), 121: F(1)}
P_EARLY = {111: F(1, 3), 112: F(4, 7), 121: F(4, 5)}
P_BEST = {111: F(4, 5), 112: F(6, 7), 121: F(1)}
Q_EXACT = {111: F(1), 112: F(2, 5), 121: F(4, 7)}


def both(p: dict, q: dict) -> dict:
    return {c: (p[c], q[c]) for c in p}


EXPECTED_F1 = {
    ("latest", "exact"): both(P_LATEST, Q_EXACT),
    ("days10", "exact"): both(P_LATEST, Q_EXACT),
    ("days30", "exact"): both(P_LATEST, Q_EXACT),
    ("days1", "exact"): both(P_EARLY, Q_EXACT),
    ("days3", "exact"): both(P_EARLY, Q_EXACT),
    ("best", "exact"): both(P_BEST, Q_EXACT),
    # category: 111, 112 -> 11 SN-like; 121 -> 12 Fast
    ("latest", "category"): {11: (F(1), F(8, 11)), 12: (F(1), F(4, 7))},
    ("days1", "category"): {11: (F(12, 13), F(8, 11)), 12: (F(4, 5), F(4, 7))},
    # broad: everything is 1 Non-Recurring
    ("latest", "broad"): {1: (F(1), F(1))},
}
# P's latest and Q's matrices at the exact level: (true, predicted) -> objects.
P_LATEST_CELLS = {(111, 111): 2, (111, 112): 1, (112, 112): 2, (112, 111): 1, (121, 121): 3}
Q_CELLS = {(111, 111): 3, (112, 112): 1, (112, 121): 2, (121, 121): 2, (121, 112): 1}


def label(classid: int) -> str:
    return f"{classid} {NAMES[classid]}"


def shown_f1(page) -> dict[int, tuple[float, float, float]]:
    """The F1 table: class -> (A, B, B - A), from the values the cells carry,
    after checking each cell's text is that value to 3 decimals."""
    table = {}
    for row in page.locator("#f1-diff tbody tr").all():
        cells = row.locator("td")
        values = []
        for i in (1, 2, 3):
            value = float(cells.nth(i).get_attribute("data-value"))
            assert cells.nth(i).inner_text().strip() == f"{value:.3f}"
            values.append(value)
        classid = int(row.get_attribute("data-class").split()[0])
        assert row.get_attribute("data-class") == label(classid)
        table[classid] = tuple(values)
    return table


def plotted_matrix(page, chart_id: str) -> dict[tuple[int, int], int]:
    """The labelled cells of the heatmap (labels are object counts, empty
    for none): (true, predicted) -> objects."""
    trace = page.evaluate(f"() => document.getElementById('{chart_id}').data[0]")
    cells = {
        (int(t.split()[0]), int(p.split()[0])): int(n)
        for t, row in zip(trace["y"], trace["text"], strict=True)
        for p, n in zip(trace["x"], row, strict=True)
        if n
    }
    drawn = [text for text in page.locator(f"#{chart_id} .heatmaplayer text").all_text_contents() if text]
    assert sorted(map(int, drawn)) == sorted(cells.values())
    return cells


def plotted_bars(page) -> dict[int, float]:
    trace = page.evaluate("() => document.getElementById('chart-f1-diff').data[0]")
    return {int(x.split()[0]): y for x, y in zip(trace["x"], trace["y"], strict=True)}


def choose(page, *, mode: str | None = None, level: str | None = None, charts: bool = True) -> None:
    if mode:
        page.select_option("#id_mode", mode)
    if level:
        page.select_option("#id_level", level)
    page.click("#pair-form button[type=submit]")
    page.wait_for_load_state("load")
    if not charts:
        return
    for chart in ("chart-confusion-a", "chart-confusion-b", "chart-f1-diff"):
        assert_plotly_svg(page, chart)


def assert_f1(page, mode: str, level: str) -> None:
    expected = EXPECTED_F1[(mode, level)]
    assert f"mode={mode}" in page.url
    assert f"level={level}" in page.url
    assert page.locator("#id_mode").input_value() == mode
    assert page.locator("#id_level").input_value() == level
    shown = shown_f1(page)
    assert set(shown) == set(expected), (mode, level)
    for classid, (p, q) in expected.items():
        assert shown[classid] == pytest.approx((float(p), float(q), float(q - p)), abs=1e-12), (mode, level, classid)
    assert plotted_bars(page) == pytest.approx({c: float(q - p) for c, (p, q) in expected.items()}, abs=1e-12)


def test_pair_controls_matrices_and_f1_per_mode_and_level(page, artifacts_dir):
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/metrics/?mode=latest&level=exact")
    page.click("text=compare two classifiers (A vs B)")
    page.wait_for_url("**/elasticc/metrics/compare/")
    assert page.locator("#chart-confusion-a").count() == 0  # nothing chosen yet
    options = page.locator("#id_a option").evaluate_all("os => os.map(o => o.value)")
    assert options == [str(ids["P"]), str(ids["Q"])]
    modes = page.locator("#id_mode option").evaluate_all("os => os.map(o => o.value)")
    assert modes == ["latest", "best", "days1", "days3", "days10", "days30"]
    page.screenshot(path=str(artifacts_dir / "pair_empty.png"), full_page=True)

    page.select_option("#id_a", str(ids["P"]))
    page.select_option("#id_b", str(ids["Q"]))
    choose(page)
    assert f"a={ids['P']}" in page.url
    assert f"b={ids['Q']}" in page.url
    assert page.locator("#label-a").inner_text() == "A: TestBroker 1.0 P p1"
    assert page.locator("#label-b").inner_text() == "B: TestBroker 1.0 Q q1"
    assert page.locator("#id_a").input_value() == str(ids["P"])
    assert page.locator("#id_b").input_value() == str(ids["Q"])
    assert plotted_matrix(page, "chart-confusion-a") == P_LATEST_CELLS
    assert plotted_matrix(page, "chart-confusion-b") == Q_CELLS
    assert "9 objects with truth" in page.locator("#label-a + p").inner_text()
    assert "9 objects with truth" in page.locator("#label-b + p").inner_text()
    # Rows normalised by true class: P's 111 row is 2/3 Ia, 1/3 Ib/c.
    z = page.evaluate("() => document.getElementById('chart-confusion-a').data[0].z")
    assert z[0][:2] == pytest.approx([2 / 3, 1 / 3])
    assert_f1(page, "latest", "exact")
    page.screenshot(path=str(artifacts_dir / "pair_latest_exact.png"), full_page=True)

    for mode in ("best", "days1", "days3", "days10", "days30"):
        choose(page, mode=mode)
        assert_f1(page, mode, "exact")
        assert plotted_matrix(page, "chart-confusion-b") == Q_CELLS  # Q answered once: every mode the same
        page.screenshot(path=str(artifacts_dir / f"pair_{mode}_exact.png"), full_page=True)
    choose(page, mode="latest", level="category")
    assert_f1(page, "latest", "category")
    assert plotted_matrix(page, "chart-confusion-b") == {(11, 11): 4, (11, 12): 2, (12, 12): 2, (12, 11): 1}
    page.screenshot(path=str(artifacts_dir / "pair_latest_category.png"), full_page=True)
    choose(page, mode="days1")
    assert_f1(page, "days1", "category")
    choose(page, mode="latest", level="broad")
    assert_f1(page, "latest", "broad")
    assert plotted_matrix(page, "chart-confusion-a") == {(1, 1): 9}
    page.screenshot(path=str(artifacts_dir / "pair_latest_broad.png"), full_page=True)

    # Swapping the classifiers swaps the columns and the sign of the difference.
    page.select_option("#id_a", str(ids["Q"]))
    page.select_option("#id_b", str(ids["P"]))
    choose(page, level="exact")
    shown = shown_f1(page)
    for classid, (p, q) in EXPECTED_F1[("latest", "exact")].items():
        assert shown[classid] == pytest.approx((float(q), float(p), float(p - q)), abs=1e-12)
    assert page.locator("#label-a").inner_text() == "A: TestBroker 1.0 Q q1"
    page.screenshot(path=str(artifacts_dir / "pair_swapped.png"), full_page=True)


def test_pair_level_the_taxonomy_lacks_is_a_form_error(page, artifacts_dir):
    """ELAsTiCC (3-digit) classifiers have no general level: choosing it
    keeps the page and its choices, with the reason (it was a bare 404)."""
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/metrics/compare/?a={ids['Q']}&b={ids['P']}&mode=best&level=exact")
    assert_plotly_svg(page, "chart-confusion-a")
    page.expect_status(400)
    choose(page, level="general", charts=False)
    assert "level=general" in page.url
    assert "classifier A's elasticc taxonomy has no general level" in page.locator("#form-errors").inner_text()
    assert page.locator("#chart-confusion-a").count() == 0
    assert page.locator("#id_a").input_value() == str(ids["Q"])
    assert page.locator("#id_b").input_value() == str(ids["P"])
    assert page.locator("#id_mode").input_value() == "best"
    page.screenshot(path=str(artifacts_dir / "pair_level_error.png"), full_page=True)
    choose(page, level="category")
    assert page.locator("#form-errors").count() == 0
    # Q vs P, best, category: P best puts every object in its true category.
    assert shown_f1(page) == {
        11: (pytest.approx(8 / 11), 1.0, pytest.approx(3 / 11)),
        12: (pytest.approx(4 / 7), 1.0, pytest.approx(3 / 7)),
    }
