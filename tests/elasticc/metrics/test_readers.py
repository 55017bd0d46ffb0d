"""elasticc.metrics.readers and charts: the aggregates of the hand-made data
set (tests.builders) against answers worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from elasticc.metrics import charts, readers
from tests.builders import BROKER_DELAY, DAY1, OUR_DELAY


@pytest.mark.django_db
def test_confusion_matrices_match_hand_count(fixture_ids):
    a = fixture_ids["A"]
    assert readers.confusion(classifierid=a, mode="latest", level="exact") == [
        (111, 111, 1),
        (112, 113, 1),
        (122, 122, 1),
    ]
    assert readers.confusion(classifierid=a, mode="best", level="exact") == [
        (111, 111, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    assert readers.confusion(classifierid=a, mode="latest", level="category") == [(11, 11, 2), (12, 12, 1)]
    assert readers.confusion(classifierid=a, mode="latest", level="broad") == [(1, 1, 3)]
    assert readers.confusion(classifierid=fixture_ids["B"], mode="latest", level="exact") == [(111, 111, 1)]


@pytest.mark.django_db
def test_confusion_matrix_normalisation(fixture_ids):
    names = {111: "Ia", 112: "Ib/c", 113: "II", 122: "M-dwarf Flare"}
    by_true = charts.confusion_matrix(
        classifierid=fixture_ids["A"], mode="latest", level="exact", norm="true", names=names
    )
    assert by_true["true"] == ["111 Ia", "112 Ib/c", "122 M-dwarf Flare"]
    assert by_true["pred"] == ["111 Ia", "112 Ib/c", "113 II", "122 M-dwarf Flare"]
    assert by_true["counts"] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert [sum(row) for row in by_true["z"]] == [1.0, 1.0, 1.0]
    by_pred = charts.confusion_matrix(
        classifierid=fixture_ids["A"], mode="latest", level="category", norm="pred", names={11: "SN-like", 12: "Fast"}
    )
    assert by_pred["counts"] == [[2, 0], [0, 1]]
    assert by_pred["z"] == [[1.0, 0.0], [0.0, 1.0]]
    assert by_pred["objects"] == 3


@pytest.mark.django_db
def test_delay_histograms_are_zero_filled_on_shared_log_bins(fixture_ids):
    hist = readers.delay_histograms(classifierid=fixture_ids["A"])
    # broker 10 s -> bin 10 (10^1.0 s); ours 2 s -> bin 3 (10^0.3 s); total 12 s -> bin 10.
    # Bins 3..10 shared by all kinds: 9 edges, 8 counts, the empty bins 0.
    assert hist["edges"] == [pytest.approx(10 ** (b / 10)) for b in range(3, 12)]
    assert hist["counts"]["broker"] == [0, 0, 0, 0, 0, 0, 0, 6]
    assert hist["counts"]["ours"] == [6, 0, 0, 0, 0, 0, 0, 0]
    assert hist["counts"]["total"] == [0, 0, 0, 0, 0, 0, 0, 6]
    assert hist["quantiles"]["broker"] == {
        "n": 6,
        "median": [10.0, pytest.approx(10**1.1)],
        "p95": [10.0, pytest.approx(10**1.1)],
    }
    assert hist["quantiles"]["ours"]["median"] == [pytest.approx(10**0.3), pytest.approx(10**0.4)]
    # The time window selects by day the message was stored.
    day2 = (DAY1 + timedelta(days=1)).date()
    assert readers.delay_histograms(classifierid=fixture_ids["A"], start=day2)["counts"]["broker"][-1] == 2
    empty = readers.delay_histograms(classifierid=fixture_ids["A"], end=date(2025, 1, 1))
    assert empty["edges"] == []
    assert empty["quantiles"]["total"] == {"n": 0, "median": None, "p95": None}


def test_binned_quantiles_pick_the_bin_where_the_cumulative_count_reaches_q():
    # 10 delays: 4 in bin 0 [1, 1.26) s, 5 in bin 2, 1 in bin 3: median (5th) in bin 2, p95 (9.5th) in bin 3.
    assert readers.binned_quantiles([(0, 4), (2, 5), (3, 1)]) == {
        "n": 10,
        "median": [pytest.approx(10**0.2), pytest.approx(10**0.3)],
        "p95": [pytest.approx(10**0.3), pytest.approx(10**0.4)],
    }
    assert readers.binned_quantiles([]) == {"n": 0, "median": None, "p95": None}


@pytest.mark.django_db
def test_completeness_per_day_and_week(fixture_ids):
    rows = readers.completeness(classifierid=fixture_ids["A"], period="day")
    assert [(r["start"], r["sent"], r["classified"]) for r in rows] == [
        (DAY1.date(), 4, 4),
        (DAY1.date() + timedelta(days=1), 3, 2),
    ]
    assert rows[1]["fraction"] == pytest.approx(2 / 3)
    # The page's date window applies to completeness as to delays.
    day2 = DAY1.date() + timedelta(days=1)
    windowed = readers.completeness(classifierid=fixture_ids["A"], period="day", start=day2)
    assert [(r["start"], r["sent"], r["classified"]) for r in windowed] == [(day2, 3, 2)]
    assert readers.completeness(classifierid=fixture_ids["A"], period="day", end=DAY1.date() - timedelta(days=1)) == []
    weekly = readers.completeness(classifierid=fixture_ids["B"], period="week")
    # 2026-01-01 is a Thursday: both days fall in the week of Monday 2025-12-29.
    assert [(r["start"], r["sent"], r["classified"]) for r in weekly] == [(date(2025, 12, 29), 7, 1)]


@pytest.mark.django_db
def test_true_class_probability_by_days_since_first_detection(fixture_ids):
    result = readers.true_class_probability(classifierid=fixture_ids["A"])
    assert [(r["days"], r["n"]) for r in result["all"]] == [(0, 3), (2, 2)]
    assert result["all"][0]["mean"] == pytest.approx((0.4 + 0.9 + 0.8) / 3, abs=1e-6)
    assert result["all"][1]["mean"] == pytest.approx((0.7 + 0.45) / 2, abs=1e-6)
    assert result["all"][1]["std"] == pytest.approx(0.125, abs=1e-6)
    assert [(r["days"], r["mean"]) for r in result["111"]] == [(0, pytest.approx(0.4)), (2, pytest.approx(0.7))]
    two_day_bins = readers.true_class_probability(classifierid=fixture_ids["A"], bin_days=5)
    assert [(r["days"], r["n"]) for r in two_day_bins["all"]] == [(0, 5)]


@pytest.mark.django_db
def test_classifier_stats_and_truth_counts(fixture_ids):
    stats = readers.classifier_stats()
    assert stats[fixture_ids["A"]]["nmessages"] == 6
    assert stats[fixture_ids["A"]]["nalerts"] == 6
    assert stats[fixture_ids["B"]]["nmessages"] == 1
    assert stats[fixture_ids["A"]]["lastingest"] == DAY1 + timedelta(days=1) + BROKER_DELAY + OUR_DELAY
    assert readers.truth_counts() == [(10, 1), (20, 1), (82, 1)]
    assert readers.as_of() is not None


@pytest.mark.django_db
def test_class_at_level_uses_taxonomy_digits():
    assert [readers.class_at_level(c, "category") for c in (111, 11, 1, 0, 221)] == [11, 11, 1, 0, 22]
    assert [readers.class_at_level(c, "broad") for c in (111, 11, 1, 0, 221)] == [1, 1, 1, 0, 2]
    assert readers.class_at_level(123, "exact") == 123


def test_scores_of_a_hand_built_three_class_matrix():
    # true 1: 5 objects, predicted as 1 (3) and 2 (2); true 2: 4, all as 2; true 3: 3, as 1 (1) and 3 (2).
    cells = [(1, 1, 3), (1, 2, 2), (2, 2, 4), (3, 1, 1), (3, 3, 2)]
    result = readers.scores(cells)
    assert result["objects"] == 12
    assert result["accuracy"] == pytest.approx(9 / 12)
    by_class = {c["classid"]: c for c in result["per_class"]}
    # purity = TP / predicted: 3/4, 4/6, 2/2; completeness = TP / true: 3/5, 4/4, 2/3.
    assert [by_class[c]["purity"] for c in (1, 2, 3)] == [pytest.approx(0.75), pytest.approx(4 / 6), 1.0]
    assert [by_class[c]["completeness"] for c in (1, 2, 3)] == [pytest.approx(0.6), 1.0, pytest.approx(2 / 3)]
    f1 = [2 * 0.75 * 0.6 / 1.35, 2 * (4 / 6) * 1 / (4 / 6 + 1), 2 * 1 * (2 / 3) / (1 + 2 / 3)]
    assert [by_class[c]["f1"] for c in (1, 2, 3)] == [pytest.approx(v) for v in f1]
    assert result["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert (by_class[1]["ntrue"], by_class[1]["npredicted"]) == (5, 4)


def test_scores_count_a_class_never_predicted_or_never_true_as_f1_zero():
    # Classifier A of the data set, latest, exact: 112 is predicted as 113.
    result = readers.scores([(111, 111, 1), (112, 113, 1), (122, 122, 1)])
    by_class = {c["classid"]: c for c in result["per_class"]}
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert (by_class[112]["purity"], by_class[112]["completeness"], by_class[112]["f1"]) == (None, 0.0, 0.0)
    assert (by_class[113]["purity"], by_class[113]["completeness"], by_class[113]["f1"]) == (0.0, None, 0.0)
    assert result["macro_f1"] == pytest.approx(2 / 4)
    assert readers.scores([]) == {"objects": 0, "accuracy": None, "macro_f1": None, "per_class": []}


@pytest.mark.django_db
def test_comparison_rows_per_classifier(fixture_ids):
    rows = {r["classifierid"]: r for r in readers.comparison(mode="latest", level="exact", truth=True)}
    a, b = rows[fixture_ids["A"]], rows[fixture_ids["B"]]
    # A predicts objects 1001-1004 (1004 has no truth); 6 of the 7 sent alerts answered.
    assert (a["nobjects"], a["nalerts"], a["alerts_sent"]) == (4, 6, 7)
    assert a["completeness"] == pytest.approx(6 / 7)
    assert a["objects"] == 3
    assert a["accuracy"] == pytest.approx(2 / 3)
    assert a["macro_f1"] == pytest.approx(0.5)
    assert a["delay_median"] == [pytest.approx(10.0), pytest.approx(10**1.1)]
    assert a["noutside"] == 0
    assert (b["nobjects"], b["accuracy"], b["macro_f1"]) == (1, 1.0, 1.0)
    best = {r["classifierid"]: r for r in readers.comparison(mode="best", level="exact", truth=True)}
    assert best[fixture_ids["A"]]["accuracy"] == 1.0
    category = {r["classifierid"]: r for r in readers.comparison(mode="latest", level="category", truth=True)}
    assert category[fixture_ids["A"]]["macro_f1"] == 1.0
    # ELAsTiCC has no general level: no scores rather than wrong ones.
    general = {r["classifierid"]: r for r in readers.comparison(mode="latest", level="general", truth=True)}
    assert general[fixture_ids["A"]]["accuracy"] is None
    # Without truth: no truth-derived key at all.
    public = {r["classifierid"]: r for r in readers.comparison(mode="latest", level="exact", truth=False)}
    assert not {"accuracy", "macro_f1", "per_class", "objects"} & set(public[fixture_ids["A"]])
    assert public[fixture_ids["A"]]["completeness"] == pytest.approx(6 / 7)


@pytest.mark.django_db
def test_confusion_at_n_days_after_first_detection(fixture_ids):
    """Every object of the set was first detected at MJD 60000.3 and its
    alerts are at days 0, 2 and 5: at 1 day A only knew its first alerts
    (1001: 112, 1002: 112, 1003: 122); from 3 days on the latest alerts."""
    a = fixture_ids["A"]
    assert readers.confusion(classifierid=a, mode="days1", level="exact") == [
        (111, 112, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    latest = readers.confusion(classifierid=a, mode="latest", level="exact")
    for mode in ("days3", "days10", "days30"):
        assert readers.confusion(classifierid=a, mode=mode, level="exact") == latest
    assert readers.confusion(classifierid=a, mode="days1", level="category") == [(11, 11, 2), (12, 12, 1)]
    assert readers.confusion(classifierid=fixture_ids["B"], mode="days1", level="exact") == [(111, 111, 1)]
    rows = {r["classifierid"]: r for r in readers.comparison(mode="days1", level="exact", truth=True)}
    # Classes 111 (never predicted: F1 0), 112 (purity 1/2, completeness 1: F1 2/3), 122 (F1 1).
    assert (rows[a]["objects"], rows[a]["accuracy"]) == (3, pytest.approx(2 / 3))
    assert rows[a]["macro_f1"] == pytest.approx((0 + 2 / 3 + 1) / 3)


@pytest.mark.django_db
def test_completeness_by_simulated_night(fixture_ids):
    """Sources at MJD 60000.3, 60002.3, 60005.3: nights 60000 and 60002 had
    sent alerts (4 and 3); A answered 4 and 2 of them, B one."""
    a = fixture_ids["A"]

    def table(rows):
        return [(r["night"], r["sent"], r["classified"]) for r in rows]

    nights = readers.completeness_by_night(classifierid=a, period="day")
    assert table(nights) == [(60000, 4, 4), (60002, 3, 2)]
    assert nights[1]["fraction"] == pytest.approx(2 / 3)
    # The MJD window takes whole nights: floor(mjd_min) .. floor(mjd_max).
    assert table(readers.completeness_by_night(classifierid=a, period="day", mjd_min=60001.5)) == [(60002, 3, 2)]
    assert table(readers.completeness_by_night(classifierid=a, period="day", mjd_min=60000.9, mjd_max=60001)) == [
        (60000, 4, 4)
    ]
    assert readers.completeness_by_night(classifierid=a, period="day", mjd_min=60003) == []
    # Weeks of nights from Monday: MJD 60000 is Saturday 2023-02-25 (week of 59995), 60002 a Monday.
    assert table(readers.completeness_by_night(classifierid=a, period="week")) == [(59995, 4, 4), (60002, 3, 2)]
    assert table(readers.completeness_by_night(classifierid=fixture_ids["B"], period="day")) == [
        (60000, 4, 1),
        (60002, 3, 0),
    ]
    # The axis a page or the API chose.
    params = {"axis": "night", "period": "day", "mjd_min": 60002, "mjd_max": None, "start": None, "end": None}
    assert table(readers.completeness_on_axis(classifierid=a, params=params)) == [(60002, 3, 2)]
    by_day = readers.completeness_on_axis(classifierid=a, params={**params, "axis": "sent"})
    assert [(r["start"], r["sent"], r["classified"]) for r in by_day] == [
        (DAY1.date(), 4, 4),
        (DAY1.date() + timedelta(days=1), 3, 2),
    ]


@pytest.mark.django_db
def test_stream_nights_are_zero_filled(fixture_ids):
    """Alerts sent on nights 60000 (4) and 60002 (3), none on 60001: that
    night is a 0 in every series (a chart drawn through the rows never
    carries a count across it); B, with messages on 60000 only, gets 0 on
    the later nights too."""
    nights = readers.stream_nights()
    assert [(r["night"], r["alerts_sent"]) for r in nights["alerts"]] == [(60000, 4), (60001, 0), (60002, 3)]
    messages = {(r["classifierid"], r["night"]): r["messages"] for r in nights["messages"]}
    a, b = fixture_ids["A"], fixture_ids["B"]
    assert messages == {
        (a, 60000): 4,
        (a, 60001): 0,
        (a, 60002): 2,
        (b, 60000): 1,
        (b, 60001): 0,
        (b, 60002): 0,
    }
    assert [r["classifierid"] for r in nights["messages"]] == sorted([a, a, a, b, b, b])


@pytest.mark.django_db
def test_stream_nights_of_an_empty_stream():
    from django.db import connection

    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("DELETE FROM elasticc_metricsalertsnight; DELETE FROM elasticc_metricsmessagesnight")
    assert readers.stream_nights() == {"alerts": [], "messages": []}
