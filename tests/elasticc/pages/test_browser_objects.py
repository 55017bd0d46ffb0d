"""The object browser (/elasticc/objects/) in headless Chromium, on the
three-class set of tests.builders: every filter control narrows the list to
exactly the expected objects (worked out by hand from the set, the
detection counts and spans checked against elasticc_diasource), keyset
pages follow "Next page", and each row links to its object page.

Object 3001 + i: true class 111 (i < 3), 112 (i < 6) or 121; 3 + i % 3
detections, the first at MJD 60000.3 + 10 i, the others 2, 5, 8, 12 days
later. Classifier P's answers (top class, probability):
  latest (day 5): 3001 111 .7, 3002 111 .8, 3003 112 .7, 3004 112 .75, 3005 112 .6,
                  3006 111 .6, 3007 121 .8, 3008 121 .85, 3009 121 .7
  days1 (day 0):  3001 112 .6, 3002 111 .9, 3003 112 .55, 3004 111 .6, 3005 112 .8,
                  3006 112 .9, 3007 121 .9, 3008 111 .6, 3009 121 .65
  best: the higher of the two. Q's one answer per object predicts
  3001-3009: 111 111 111 112 121 121 121 112 121.
"""

from __future__ import annotations

import pytest
from django.db import connection

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import THREE_TRUTH, load_three_class_data, three_sources

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL = sorted(THREE_TRUTH)
P_LATEST = {3001: (111, 0.7), 3002: (111, 0.8), 3003: (112, 0.7), 3004: (112, 0.75), 3005: (112, 0.6)}
P_LATEST |= {3006: (111, 0.6), 3007: (121, 0.8), 3008: (121, 0.85), 3009: (121, 0.7)}
NAMES = {111: "Ia", 112: "Ib/c", 121: "KN", 11: "SN-like"}


def listed(page) -> list[int]:
    ids = page.locator("#objects-table tbody tr[data-diaobjectid]").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.diaobjectid))"
    )
    assert int(page.locator("#objects-count").get_attribute("data-count")) == len(ids)
    return ids


def filter_objects(page, **fields: str | int | float) -> list[int]:
    """Set the form's controls (the others cleared) and submit; the objects listed."""
    for name in ("predclass", "trueclass", "pmin", "mjd_min", "mjd_max", "ndet_min", "ndet_max"):
        if page.locator(f"#id_{name}").count():
            page.fill(f"#id_{name}", str(fields.pop(name, "")))
    for name in ("classifier", "mode", "level"):
        if name in fields:
            page.select_option(f"#id_{name}", str(fields.pop(name)))
    assert not fields, f"no such control: {fields}"
    page.click("#objects-form button[type=submit]")
    page.wait_for_selector("#objects-count")
    return listed(page)


def detections() -> dict[int, tuple[int, float, float]]:
    """object -> (detections, first MJD, last MJD), from elasticc_diasource."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diaobjectid, count(*), min(midpointtai), max(midpointtai) FROM elasticc_diasource "
            "GROUP BY diaobjectid ORDER BY diaobjectid"
        )
        return {oid: (n, first, last) for oid, n, first, last in cursor.fetchall()}


def test_object_browser_filters(page, artifacts_dir):
    ids = load_three_class_data()
    refresh_metrics(full=True)
    det = detections()
    assert det == {
        oid: (len(three_sources(oid)), pytest.approx(three_sources(oid)[0]), pytest.approx(three_sources(oid)[-1]))
        for oid in ALL
    }
    page.goto(f"{page.base_url}/")
    page.click("nav.navbar >> text=Objects")
    page.wait_for_url("**/elasticc/object/")
    page.click("#browse-link")
    page.wait_for_url("**/elasticc/objects/")
    assert page.locator("#objects-table").count() == 0  # nothing asked yet
    page.screenshot(path=str(artifacts_dir / "objects_empty.png"), full_page=True)

    assert filter_objects(page, classifier=ids["P"]) == ALL
    # Each row: predicted class and its probability, true class, detections and their span.
    for oid in ALL:
        cells = page.locator(f'#objects-table tr[data-diaobjectid="{oid}"] td').all_inner_texts()
        pred, prob = P_LATEST[oid]
        n, first, last = det[oid]
        true = THREE_TRUTH[oid]
        assert cells == [
            str(oid),
            f"{pred} {NAMES[pred]}",
            f"{prob:.3f}",
            f"{true} {NAMES[true]}",
            str(n),
            f"{first:.3f}",
            f"{last:.3f}",
        ]
    page.screenshot(path=str(artifacts_dir / "objects_all.png"), full_page=True)

    # predicted class, at the exact and at the category level (11 SN-like holds 111 and 112)
    assert filter_objects(page, classifier=ids["P"], predclass=111) == [3001, 3002, 3006]
    assert page.locator("#id_predclass").input_value() == "111"  # the form keeps its choices
    assert filter_objects(page, classifier=ids["P"], predclass=11, level="category") == [
        3001,
        3002,
        3003,
        3004,
        3005,
        3006,
    ]
    assert filter_objects(page, classifier=ids["P"], predclass=111, level="exact", mode="days1") == [3002, 3004, 3008]
    # true class (admins), alone and as a confusion cell with the predicted class
    assert filter_objects(page, classifier=ids["P"], trueclass=112, mode="latest") == [3004, 3005, 3006]
    assert filter_objects(page, classifier=ids["P"], trueclass=112, predclass=111) == [3006]
    page.screenshot(path=str(artifacts_dir / "objects_true_and_predicted.png"), full_page=True)
    # the classifier
    assert filter_objects(page, classifier=ids["Q"], predclass=121) == [3005, 3006, 3007, 3009]
    assert filter_objects(page, classifier=ids["Q"], trueclass=121, predclass=112) == [3008]
    # probability >= p, of the mode's prediction
    assert filter_objects(page, classifier=ids["P"], pmin=0.75) == [3002, 3004, 3007, 3008]
    assert filter_objects(page, classifier=ids["P"], pmin=0.8, mode="days1") == [3002, 3005, 3006, 3007]
    assert filter_objects(page, classifier=ids["P"], pmin=0.85, mode="best") == [3002, 3006, 3007, 3008]
    # detection MJD range: detected in it (first <= to and last >= from)
    span = [oid for oid, (_, first, last) in det.items() if last >= 60030 and first <= 60045]
    assert span == [3003, 3004, 3005]
    assert filter_objects(page, classifier=ids["P"], mode="latest", mjd_min=60030, mjd_max=60045) == span
    assert filter_objects(page, classifier=ids["P"], mjd_min=60062) == [3006, 3007, 3008, 3009]
    assert filter_objects(page, classifier=ids["P"], mjd_max=60010.3) == [3001, 3002]
    # number of detections
    assert filter_objects(page, classifier=ids["P"], ndet_min=4, ndet_max=4) == [3002, 3005, 3008]
    assert filter_objects(page, classifier=ids["P"], ndet_min=5) == [3003, 3006, 3009]
    assert filter_objects(page, classifier=ids["P"], ndet_max=3) == [oid for oid, (n, _, _) in det.items() if n <= 3]
    # all together
    assert filter_objects(page, classifier=ids["P"], predclass=112, pmin=0.7, ndet_min=3, mjd_min=60020) == [
        3003,
        3004,
    ]
    page.screenshot(path=str(artifacts_dir / "objects_filtered.png"), full_page=True)
    assert filter_objects(page, classifier=ids["P"], predclass=113) == []
    assert page.locator("#objects-table tbody").inner_text().strip() == "No objects match."


def test_object_browser_probability_threshold_is_inclusive(page, artifacts_dir):
    """Probabilities are stored as 4-byte reals: "probability >= 0.9" keeps
    an object given exactly 0.9 (0.9 as a real is 0.89999998 as a double)."""
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/objects/?classifier={ids['P']}")
    assert filter_objects(page, classifier=ids["P"], pmin=0.9, mode="best") == [3002, 3006, 3007]
    assert filter_objects(page, classifier=ids["P"], pmin=0.9, mode="days1") == [3002, 3006, 3007]
    assert filter_objects(page, classifier=ids["P"], pmin=0.7, mode="latest") == [
        3001,
        3002,
        3003,
        3004,
        3007,
        3008,
        3009,
    ]
    assert filter_objects(page, classifier=ids["Q"], pmin=0.95) == [3007]
    page.screenshot(path=str(artifacts_dir / "objects_probability.png"), full_page=True)


def test_object_browser_keyset_pages_and_links(page, artifacts_dir, monkeypatch):
    from elasticc.pages import views

    monkeypatch.setattr(views, "OBJECTS_PER_PAGE", 4)  # the live server runs in this process
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page.goto(f"{page.base_url}/elasticc/objects/")
    assert filter_objects(page, classifier=ids["P"]) == [3001, 3002, 3003, 3004]
    assert page.locator("#objects-first").count() == 0
    seen = listed(page)
    pages = 1
    while page.locator("#objects-next").count():
        page.click("#objects-next")
        page.wait_for_load_state("load")
        assert f"after diaObjectId {seen[-1]}" in page.locator("#objects-count").inner_text()
        seen += listed(page)
        pages += 1
        page.screenshot(path=str(artifacts_dir / f"objects_page_{pages}.png"), full_page=True)
    assert pages == 3
    assert seen == ALL
    assert listed(page) == [3009]
    page.click("#objects-first")
    page.wait_for_load_state("load")
    assert listed(page) == [3001, 3002, 3003, 3004]

    # Pages keep the filters: 6 objects with 4 or more detections, in pages of 4 and 2.
    assert filter_objects(page, classifier=ids["P"], ndet_min=4) == [3002, 3003, 3005, 3006]
    page.click("#objects-next")
    page.wait_for_load_state("load")
    assert listed(page) == [3008, 3009]
    assert page.locator("#objects-next").count() == 0
    assert page.locator("#id_ndet_min").input_value() == "4"

    # Every row links to its object page.
    for row in page.locator("#objects-table tbody tr[data-diaobjectid]").all():
        oid = row.get_attribute("data-diaobjectid")
        assert row.locator("a").get_attribute("href") == f"/elasticc/object/{oid}/"
    page.click('#objects-table tr[data-diaobjectid="3009"] a')
    page.wait_for_url("**/elasticc/object/3009/")
    assert page.locator("h1").inner_text() == "diaObject 3009"
    assert "gentype 50 → class 121 KN" in page.locator("#truth").inner_text()
    page.screenshot(path=str(artifacts_dir / "objects_to_object.png"), full_page=True)


def test_object_browser_without_truth(page_for, plain_user, artifacts_dir):
    """A user who may not see truth has no true-class control nor column."""
    ids = load_three_class_data()
    refresh_metrics(full=True)
    page = page_for(plain_user)
    page.goto(f"{page.base_url}/elasticc/objects/")
    assert page.locator("#id_trueclass").count() == 0
    assert filter_objects(page, classifier=ids["Q"], predclass=112) == [3004, 3008]
    assert "True class" not in page.locator("#objects-table thead").inner_text()
    assert page.locator('#objects-table tr[data-diaobjectid="3008"] td').all_inner_texts() == [
        "3008",
        "112 Ib/c",
        "0.600",
        "4",
        "60070.300",
        "60078.300",
    ]
    page.screenshot(path=str(artifacts_dir / "objects_without_truth.png"), full_page=True)
