"""elasticc.metrics.refresh: incremental, exact, idempotent refreshes of the
aggregates, checked against a full rebuild."""

from __future__ import annotations

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
    add_metrics_objects,
    alert_id,
    load_metrics_data,
    mark_sent,
    store_metrics_message,
    stored_but_uncommitted,
)


def snapshot() -> dict[str, list]:
    """Every aggregate table's content, to compare refreshes."""
    tables = {
        "classifier": "SELECT * FROM elasticc_metricsclassifier",
        "object": "SELECT * FROM elasticc_metricsobject",
        "confusion": "SELECT * FROM elasticc_metricsconfusion",
        "delay": "SELECT * FROM elasticc_metricsdelay",
        "classified": "SELECT * FROM elasticc_metricsclassified",
        "alertsday": "SELECT * FROM elasticc_metricsalertsday",
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
