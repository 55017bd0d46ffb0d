"""The comparison table (/elasticc/metrics/) in headless Chromium, on the
hand-built three-class set of tests.builders (nine objects, three per true
class 111 Ia, 112 Ib/c, 121 KN; classifiers P and Q, predictions listed in
tests/elasticc/pages/test_browser_pair.py): accuracy, macro F1 and per-class
purity, completeness and F1 worked out by hand, for modes and levels chosen
with the page's controls, and the per-class download giving the same numbers.

Purity of a class = right / predicted as it, completeness = right / truly
it, F1 = 2 TP / (predicted + true); macro F1 averages the classes.
"""

from __future__ import annotations

import json
from fractions import Fraction as F

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_three_class_data
from tests.elasticc.pages.browser import db_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (mode, level) -> classifier -> (accuracy, {class: (purity, completeness, F1)})
EXPECTED = {
    ("latest", "exact"): {
        # P: 111 -> 111 111 112, 112 -> 112 112 111, 121 -> 121 121 121.
        "P": (F(7, 9), {111: (F(2, 3), F(2, 3), F(2, 3)), 112: (F(2, 3), F(2, 3), F(2, 3)), 121: (F(1), F(1), F(1))}),
        # Q: 111 -> 111 111 111, 112 -> 112 121 121, 121 -> 121 112 121.
        "Q": (F(2, 3), {111: (F(1), F(1), F(1)), 112: (F(1, 2), F(1, 3), F(2, 5)), 121: (F(1, 2), F(2, 3), F(4, 7))}),
    },
    ("best", "exact"): {
        # P best: 111 -> 111 111 112, 112 -> 112 112 112, 121 -> 121 121 121.
        "P": (F(8, 9), {111: (F(1), F(2, 3), F(4, 5)), 112: (F(3, 4), F(1), F(6, 7)), 121: (F(1), F(1), F(1))}),
        "Q": (F(2, 3), {111: (F(1), F(1), F(1)), 112: (F(1, 2), F(1, 3), F(2, 5)), 121: (F(1, 2), F(2, 3), F(4, 7))}),
    },
    ("best", "category"): {
        # 111, 112 -> 11 SN-like; 121 -> 12 Fast.
        "P": (F(1), {11: (F(1), F(1), F(1)), 12: (F(1), F(1), F(1))}),
        "Q": (F(2, 3), {11: (F(4, 5), F(2, 3), F(8, 11)), 12: (F(1, 2), F(2, 3), F(4, 7))}),
    },
}


def _value(cell) -> float | None:
    value = cell.get_attribute("data-value")
    return None if value == "" else float(value)


def _check_row(page, classifierid: int, accuracy: F, per_class: dict) -> None:
    row = page.locator(f'#classifier-list > tbody > tr[data-classifierid="{classifierid}"]')
    macro_f1 = sum(f1 for _, _, f1 in per_class.values()) / len(per_class)
    for key, expected in (("accuracy", accuracy), ("macro_f1", macro_f1)):
        cell = row.locator(f':scope > [data-key="{key}"]')
        assert _value(cell) == pytest.approx(float(expected), abs=1e-9), key
        assert cell.inner_text() == f"{float(expected):.3f}", key
    assert row.locator(':scope > [data-key="objects"]').get_attribute("data-value") == "9"
    row.locator("details.per-class summary").click()
    shown = {}
    for tr in row.locator("details.per-class tbody tr").all():
        values = tuple(_value(tr.locator(f'[data-key="{key}"]')) for key in ("purity", "completeness", "f1"))
        texts = tuple(tr.locator(f'[data-key="{key}"]').inner_text() for key in ("purity", "completeness", "f1"))
        assert texts == tuple(f"{v:.3f}" for v in values)
        shown[int(tr.get_attribute("data-classid"))] = values
    assert shown == {c: pytest.approx(tuple(map(float, v)), abs=1e-9) for c, v in per_class.items()}


def test_comparison_numbers_on_the_three_class_set(page, artifacts_dir):
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/metrics/?mode=latest&level=exact")
    # Alerts answered / sent: P answered sources 0 and 2 of every object (18), Q source 0 (9), of 36 sent.
    sent = db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
    assert sent == 36
    for name, answered in (("P", 18), ("Q", 9)):
        row = page.locator(f'#classifier-list > tbody > tr[data-classifierid="{ids[name]}"]')
        assert row.locator(':scope > [data-key="nobjects"]').get_attribute("data-value") == "9"
        assert row.locator(':scope > [data-key="nalerts"]').get_attribute("data-value") == str(answered)
        assert row.locator(':scope > [data-key="completeness"]').inner_text() == f"{100 * answered / sent:.1f} %"

    for mode, level in EXPECTED:
        if page.locator("#id_mode").input_value() != mode:
            page.select_option("#id_mode", mode)
            page.wait_for_url(f"**mode={mode}**")
        if page.locator("#id_level").input_value() != level:
            page.select_option("#id_level", level)
            page.wait_for_url(f"**level={level}**")
        for name, (accuracy, per_class) in EXPECTED[(mode, level)].items():
            _check_row(page, ids[name], accuracy, per_class)
        page.screenshot(path=str(artifacts_dir / f"comparison_three_class_{mode}_{level}.png"), full_page=True)
        # The per-class download (JSON) gives the same numbers.
        href = page.locator("#download-classes-json").get_attribute("href")
        assert f"mode={mode}" in href
        assert f"level={level}" in href
        rows = json.loads(page.request.get(f"{page.base_url}{href}").body())
        for name, (_, per_class) in EXPECTED[(mode, level)].items():
            got = {
                r["classid"]: (r["purity"], r["completeness"], r["f1"]) for r in rows if r["classifierid"] == ids[name]
            }
            assert got == {c: pytest.approx(tuple(map(float, v)), abs=1e-9) for c, v in per_class.items()}
