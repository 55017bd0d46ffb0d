"""The stream status page (issue 13 item 6): alerts sent and broker messages
per simulated night and the lag, from the per-night aggregates that the
metrics refresh keeps, checked against counts over the big tables."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.elasticc.downloads import csv_rows
from tests.responses import json_body


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.django_db
def test_nights_match_the_big_tables(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    response = client.get("/elasticc/stream/")
    assert response.status_code == 200
    charts = response.context["charts"]
    expected_alerts = _rows(
        "SELECT floor(s.midpointtai)::int, count(*) FROM elasticc_diaalert a "
        "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
        "WHERE a.alertsenttimestamp IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    assert expected_alerts
    # Zero-filled: every night from the first to the last, the empty ones 0.
    nights = [r["night"] for r in charts["alerts"]]
    assert nights == list(range(expected_alerts[0][0], expected_alerts[-1][0] + 1))
    assert [(r["night"], r["alerts_sent"]) for r in charts["alerts"] if r["alerts_sent"]] == expected_alerts
    expected_messages = _rows(
        "SELECT c.classifierid, floor(s.midpointtai)::int, count(DISTINCT m.brokermessageid) "
        "FROM elasticc_brokerclassification c JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid "
        "JOIN elasticc_diaalert a ON a.alertid = m.alertid JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [(r["classifierid"], r["night"], r["messages"]) for r in charts["messages"] if r["messages"]] == (
        expected_messages
    )
    assert {r["label"].split()[2] for r in charts["messages"]} == {"A", "B"}
    html = response.content.decode()
    assert 'id="chart-stream-alerts"' in html
    assert 'href="/elasticc/metricsdata/stream/nights/?format=csv"' in html
    assert 'href="/elasticc/stream/">Stream</a>' in html


@pytest.mark.django_db
def test_lag_from_the_aggregates(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    lag = client.get("/elasticc/stream/").context["lag"]
    (last_sent,) = _rows("SELECT max(alertsenttimestamp) FROM elasticc_diaalert")[0]
    (last_ingest,) = _rows("SELECT max(descingesttimestamp) FROM elasticc_brokermessage")[0]
    assert lag["last_alert_sent"] == last_sent
    assert lag["last_message_stored"] == last_ingest
    assert lag["alert_lag_s"] > 0
    rows = json_body(client.get("/elasticc/metricsdata/stream/lag/"))
    assert len(rows) == 1
    assert rows[0]["alert_lag_s"] > 0


@pytest.mark.django_db
def test_nights_endpoint_csv_and_json(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    rows = json_body(client.get("/elasticc/metricsdata/stream/nights/"))
    page = client.get("/elasticc/stream/").context["charts"]
    assert sum(r["alerts_sent"] or 0 for r in rows) == sum(r["alerts_sent"] for r in page["alerts"])
    assert sum(r["messages"] or 0 for r in rows) == sum(r["messages"] for r in page["messages"])
    table = csv_rows(client.get("/elasticc/metricsdata/stream/nights/?format=csv"))
    assert len(table) == len(rows)
    assert set(table[0]) == {"night", "classifierid", "alerts_sent", "messages"}


@pytest.mark.django_db
def test_stream_page_needs_login(client, fixture_ids):
    assert client.get("/elasticc/stream/").status_code == 302
    assert client.get("/elasticc/metricsdata/stream/nights/").status_code == 403


@pytest.mark.django_db
def test_stream_page_reads_no_big_table(client, plain_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    with connection.execute_wrapper(_refuse_big_tables), django_assert_max_num_queries(10):
        assert client.get("/elasticc/stream/").status_code == 200


def _refuse_big_tables(execute, sql, params, many, context):
    for table in ("elasticc_diaalert", "elasticc_diasource", "elasticc_brokermessage", "elasticc_brokerclassification"):
        assert f"{table} " not in f"{sql} ", sql
    return execute(sql, params, many, context)
