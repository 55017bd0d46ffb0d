"""elasticc.metrics.refresh: incremental, exact, idempotent refreshes of the
aggregates, checked against a full rebuild."""

from __future__ import annotations

import importlib
import io
from datetime import timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from elasticc.metrics import readers
from elasticc.metrics import refresh as metrics_refresh
from elasticc.metrics.refresh import refresh_metrics
from elasticc.postgres.connections import connect
from tests.builders import (
    CLASSIFIER_A,
    CLASSIFIER_B,
    DAY1,
    DAYS_MESSAGES,
    add_days_objects,
    add_metrics_objects,
    alert_id,
    classifier_ids,
    days_source_mjd,
    load_metrics_data,
    mark_sent,
    store_days_message,
    store_metrics_message,
    stored_but_uncommitted,
)

MIGRATION_0017 = importlib.import_module("elasticc.migrations.0017_metrics_days_after_detection_and_nights")


def snapshot() -> dict[str, list]:
    """Every aggregate table's content, to compare refreshes."""
    tables = {
        "classifier": "SELECT * FROM elasticc_metricsclassifier",
        "object": "SELECT * FROM elasticc_metricsobject",
        "confusion": "SELECT * FROM elasticc_metricsconfusion",
        "delay": "SELECT * FROM elasticc_metricsdelay",
        "classified": "SELECT * FROM elasticc_metricsclassified",
        "alertsday": "SELECT * FROM elasticc_metricsalertsday",
        "alertsnight": "SELECT * FROM elasticc_metricsalertsnight",
        "messagesnight": "SELECT * FROM elasticc_metricsmessagesnight",
        "classifiednight": "SELECT * FROM elasticc_metricsclassifiednight",
        "trueprob": "SELECT classifierid, trueclassid, days, n, round(sump::numeric, 5), round(sump2::numeric, 5) "
        "FROM elasticc_metricstrueprob",
    }
    result = {}
    with connection.cursor() as cursor:
        for name, sql in tables.items():
            cursor.execute(sql)
            result[name] = sorted(cursor.fetchall())
    return result


@pytest.fixture
def empty_metrics(transactional_db):
    """A transactional test's start: Django's flush empties the data tables but
    not the aggregates (they are not models), so rebuild those from nothing."""
    refresh_metrics(full=True)


def test_refresh_refuses_to_run_inside_a_transaction(transactional_db):
    with transaction.atomic(), pytest.raises(RuntimeError, match="after your transaction"):
        refresh_metrics()


def test_incremental_refresh_equals_full_rebuild(empty_metrics):
    ids = load_metrics_data()
    first = refresh_metrics(chunk_size=2)  # several chunks, one transaction each
    assert (first.messages, first.classifications) == (6, 13)
    assert refresh_metrics().messages == 0  # nothing new: watermark holds
    with transaction.atomic():
        # A later alert of 1002 flips its latest prediction back to the truth; 1003's third
        # alert (unsent) gets a message too, and a re-delivery of alert 10010 under another
        # key (Kafka offset) must not count that alert twice for completeness.
        store_metrics_message(obj=1002, k=2, classifications={CLASSIFIER_A: {112: 0.95}})
        store_metrics_message(obj=1001, k=0, classifications={CLASSIFIER_A: {111: 0.99}})
        mark_sent({alert_id(1002, 2): DAY1 + timedelta(days=2)})
    second = refresh_metrics()
    assert second.messages == 2
    incremental = snapshot()
    assert readers.confusion(classifierid=ids["A"], mode="latest", level="exact") == [
        (111, 111, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    assert readers.classifier_stats()[ids["A"]]["nalerts"] == 7  # 10010 counted once
    # By simulated night too: 10010 (night 60000) once; 10022 is of night 60005.
    nights = readers.completeness_by_night(classifierid=ids["A"], period="day")
    assert [(r["night"], r["sent"], r["classified"]) for r in nights] == [(60000, 4, 4), (60002, 3, 2), (60005, 1, 1)]
    # At 1 day 1001's prediction is that of the later message about its first alert.
    assert readers.confusion(classifierid=ids["A"], mode="days1", level="exact") == [
        (111, 111, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    assert refresh_metrics(full=True).messages == 8
    assert snapshot() == incremental


def test_truth_counts_follow_inserts_and_deletes(empty_metrics):
    add_metrics_objects()
    with connection.cursor() as cursor:
        assert readers.truth_counts() == [(10, 1), (20, 1), (82, 1)]
        cursor.execute("UPDATE elasticc_diaobjecttruth SET gentype = 10 WHERE diaobjectid = 1002")
        assert readers.truth_counts() == [(10, 2), (82, 1)]
        cursor.execute("DELETE FROM elasticc_diaobjecttruth WHERE gentype = 10")
        assert readers.truth_counts() == [(82, 1)]


def test_refresh_command(empty_metrics):
    load_metrics_data()
    out = io.StringIO()
    call_command("refresh_elasticc_metrics", "--full", stdout=out)
    assert "processed 6 messages (13 classifications)" in out.getvalue()
    with pytest.raises(CommandError, match="chunk-size"):
        call_command("refresh_elasticc_metrics", "--chunk-size", "0")


def test_concurrent_refresh_is_skipped(empty_metrics):
    with metrics_refresh._refresh_lock() as held:
        assert held
        assert refresh_metrics().skipped
    assert not refresh_metrics().skipped


def test_sql_users_cannot_take_the_refresh_lock(empty_metrics, settings):
    """Regression (hardening issue): any role could take the old advisory lock
    and starve the refresh. The SQL roles can neither lock the refresh row nor
    block it with advisory locks."""
    with connect(user=settings.SQL_ADMIN_ROLE, password=settings.SQL_ADMIN_ROLE_PASSWORD) as conn:
        conn.execute("SELECT pg_advisory_lock(7430001)")
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT 1 FROM elasticc_metricsrefreshlock WHERE id = 1 FOR UPDATE")
        conn.rollback()
        assert not refresh_metrics().skipped


def test_refresh_never_skips_messages_of_a_transaction_in_flight(empty_metrics, monkeypatch):
    """An ingest transaction still open holds its (lower) ids: the refresh must
    not move the watermark past them, and picks them up once committed."""
    ids = load_metrics_data()
    assert refresh_metrics().messages == 6
    monkeypatch.setattr(metrics_refresh, "LOCK_TIMEOUT", "300ms")
    with stored_but_uncommitted(store_metrics_message, obj=1003, k=1, classifications={CLASSIFIER_A: {122: 0.7}}):
        # a later message commits first, with a higher id
        store_metrics_message(obj=1004, k=0, classifications={CLASSIFIER_B: {111: 0.6}})
        waiting = refresh_metrics()
        assert (waiting.skipped, waiting.messages) == (False, 0)
    caught_up = refresh_metrics()
    assert caught_up.messages == 2
    assert readers.classifier_stats()[ids["A"]]["nmessages"] == 7


def _object_state(classifierid: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diaobjectid, latest_classid, best_classid, days1_classid, days3_classid, days10_classid, "
            "days30_classid FROM elasticc_metricsobject WHERE classifierid = %s ORDER BY diaobjectid",
            [classifierid],
        )
        return cursor.fetchall()


def _cells(classifierid: int, mode: str) -> list[tuple[int, int, int]]:
    return readers.confusion(classifierid=classifierid, mode=mode, level="exact")


def test_prediction_at_n_days_after_first_detection(empty_metrics):
    """The hand-built N-day set (tests.builders): messages arrive out of
    source order over several refreshes of one-message chunks, one alert is
    answered twice, and an object's cell moves as later-MJD messages arrive
    within the window."""
    add_days_objects()
    store_days_message(0)  # 2001, day 2: 113
    refresh_metrics(chunk_size=1)
    d = classifier_ids()["D"]
    assert _object_state(d) == [(2001, 113, 113, None, 113, 113, 113)]
    assert _cells(d, "days1") == []  # nothing known within a day of the first detection yet
    assert _cells(d, "days3") == [(111, 113, 1)]

    store_days_message(1)  # 2001, day 0: 112 (0.95)
    store_days_message(2)  # 2001, day 0.5: 111
    refresh_metrics(chunk_size=1)
    assert _object_state(d) == [(2001, 113, 112, 111, 113, 113, 113)]
    assert _cells(d, "days1") == [(111, 111, 1)]

    store_days_message(3)  # 2001, day 0.5 again: 121 (same MJD, later message)
    store_days_message(4)  # 2002, day 25: 113
    refresh_metrics(chunk_size=1)
    assert _cells(d, "days1") == [(111, 121, 1)]  # moved out of (111, 111)
    assert _cells(d, "days30") == [(111, 113, 1), (112, 113, 1)]

    for index in range(5, len(DAYS_MESSAGES)):
        store_days_message(index)  # 2001 days 5 and 40, 2002 day 15
    refresh_metrics(chunk_size=2)
    # 2001: latest (by sent time) day 40 -> 122; best 0.95 -> 112; at 1 day the later
    # message about day 0.5 -> 121; at 3 days day 2 -> 113; at 10 and 30 days day 5 -> 111.
    # 2002: first answered at day 15, so no prediction at 1, 3 or 10 days; at 30 days day 25 -> 113.
    assert _object_state(d) == [(2001, 122, 112, 121, 113, 111, 111), (2002, 113, 112, None, None, None, 113)]
    expected = {
        "latest": [(111, 122, 1), (112, 113, 1)],
        "best": [(111, 112, 1), (112, 112, 1)],
        "days1": [(111, 121, 1)],
        "days3": [(111, 113, 1)],
        "days10": [(111, 111, 1)],
        "days30": [(111, 111, 1), (112, 113, 1)],
    }
    assert {mode: _cells(d, mode) for mode in expected} == expected
    # The object browser (a cell's drill-down) lists an object in a mode only once it has a prediction there.
    for mode, listed in (("days1", [(2001, 121)]), ("days30", [(2001, 111), (2002, 113)])):
        rows = readers.browse_objects(classifierid=d, mode=mode, with_truth=True)
        assert [(r["diaobjectid"], r["predclassid"]) for r in rows] == listed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT days1_mjd, days1_prob, days10_mjd, days10_prob FROM elasticc_metricsobject "
            "WHERE classifierid = %s AND diaobjectid = 2001",
            [d],
        )
        assert cursor.fetchone() == (
            pytest.approx(days_source_mjd(2001, 1)),
            pytest.approx(0.4),
            pytest.approx(days_source_mjd(2001, 3)),
            pytest.approx(0.7),
        )
    rows = {r["classifierid"]: r for r in readers.comparison(mode="days1", level="exact", truth=True)}
    assert (rows[d]["objects"], rows[d]["accuracy"]) == (1, 0.0)
    rows = {r["classifierid"]: r for r in readers.comparison(mode="days10", level="exact", truth=True)}
    assert (rows[d]["objects"], rows[d]["accuracy"]) == (1, 1.0)
    # Completeness by night: alert 20011 got two messages (night 60100: 3 messages) but counts once.
    nights = readers.completeness_by_night(classifierid=d, period="day")
    assert [(r["night"], r["sent"], r["classified"]) for r in nights] == [
        (60100, 3, 2),
        (60102, 1, 1),
        (60105, 1, 1),
        (60115, 1, 1),
        (60125, 1, 1),
        (60140, 1, 1),
    ]
    assert readers.classifier_stats()[d]["nalerts"] == 7
    assert {r["night"]: r["messages"] for r in readers.stream_nights()["messages"]}[60100] == 3

    incremental = snapshot()
    assert refresh_metrics(full=True).messages == len(DAYS_MESSAGES)
    assert snapshot() == incremental
    # And in one chunk per message, from scratch: the same again.
    refresh_metrics(full=True, chunk_size=1)
    assert snapshot() == incremental


def test_migration_0017_backfill_equals_a_full_refresh(empty_metrics):
    """The migration fills the N-day state, its confusion rows and the alerts
    answered per night from the rows already there, as a full refresh would."""
    load_metrics_data()
    add_days_objects()
    for index in range(len(DAYS_MESSAGES)):
        store_days_message(index)
    refresh_metrics(full=True)
    expected = snapshot()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE elasticc_metricsobject SET "
            + ", ".join(
                f"days{n}_mjd = NULL, days{n}_msgid = NULL, days{n}_classid = NULL, days{n}_prob = NULL"
                for n in MIGRATION_0017.DAYS
            )
        )
        cursor.execute("DELETE FROM elasticc_metricsconfusion WHERE mode >= 100")
        cursor.execute("DELETE FROM elasticc_metricsclassifiednight")
        assert snapshot() != expected
        for statement in MIGRATION_0017.BACKFILL_SQL:
            cursor.execute(statement)
    assert snapshot() == expected
    assert MIGRATION_0017.DAYS == metrics_refresh.DAYS_AFTER_DETECTION
