"""Hardening of the SQL endpoint and the long-query queue: every attack of the
hardening review is a test here (per-user roles, concurrency that the user's
SQL cannot touch, whole-request time, statement count, memory, response size,
JSON of every type, long-query quota and fairness)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import tracemalloc

import pandas as pd
import psycopg
import pytest
import sqlparse
from rest_framework.test import APIClient

from db import long_queries
from db.csv_rows import CsvRowEnds
from db.models import LongQuery
from db.sql_slots import acquire_slot
from elasticc.access.sql_roles import user_sql_role
from elasticc.postgres.connections import connect
from tests.builders import submit_long_query
from tests.db.responses import sql
from tests.responses import body

pytestmark = pytest.mark.django_db


def _strict_json(data: bytes):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(data, parse_constant=refuse)


def test_users_cannot_see_or_kill_each_others_queries(plain_user, broker_user, client_for):
    """Regression: all non-admins shared one role, so pg_stat_activity showed
    other users' query text and pg_terminate_backend killed their queries."""
    role, password = user_sql_role(user_id=broker_user.pk)
    victim = connect(user=role, password=password, application_name="desc_sql:desc_broker", autocommit=True)
    running = threading.Thread(target=lambda: victim.execute("SELECT pg_sleep(3) AS secret_victim_query"))
    running.start()
    try:
        time.sleep(0.5)
        status, data = sql(
            client_for(plain_user),
            "SELECT pid, query, pg_terminate_backend(pid) AS killed, pg_cancel_backend(pid) AS cancelled "
            "FROM pg_stat_activity WHERE usename = %(role)s",
            {"role": role},
        )
    finally:
        running.join()
    assert status == 200
    assert data["status"] == "error", data  # "must be a member of the role whose process is being terminated"
    assert "secret_victim_query" not in json.dumps(data)
    status, data = sql(
        client_for(plain_user), "SELECT query FROM pg_stat_activity WHERE usename = %(role)s", {"role": role}
    )
    assert "secret_victim_query" not in json.dumps(data)
    assert not victim.closed
    victim.close()


@pytest.mark.django_db(transaction=True)
def test_concurrency_is_counted_server_side(plain_user, broker_user, settings):
    """Regression: the per-user cap counted pg_stat_activity.application_name,
    which the user's own SQL could change to escape the cap or to fill a victim's."""
    settings.SQL_MAX_CONCURRENT_PER_USER = 1
    mine, other = APIClient(), APIClient()
    mine.force_login(plain_user)
    other.force_login(broker_user)
    slow = threading.Thread(
        target=lambda: sql(mine, "SELECT set_config('application_name', 'desc_sql:desc_broker', false), pg_sleep(2)")
    )
    slow.start()
    try:
        time.sleep(0.7)
        status, data = sql(mine, "SELECT 1 AS one")
        assert (status, data["status"]) == (200, "error")
        assert data["error"].startswith("too many SQL queries at once: you have 1 running, at most 1")
        assert "SQL_MAX_CONCURRENT_PER_USER" in data["error"]
        status, data = sql(other, "SELECT 1 AS one")
        assert data == {"columns": ["one"], "rows": [{"one": 1}], "status": "ok"}
    finally:
        slow.join()
    status, data = sql(mine, "SELECT 1 AS one")
    assert data["status"] == "ok"


def test_site_wide_cap(client_for, plain_user, broker_user, settings):
    settings.SQL_MAX_CONCURRENT_TOTAL = 1
    lease = acquire_slot(user_id=broker_user.pk, timeout_ms=60_000)
    try:
        _status, data = sql(client_for(plain_user), "SELECT 1 AS one")
        assert data["status"] == "error"
        assert "SQL_MAX_CONCURRENT_TOTAL" in data["error"]
    finally:
        lease.release()
    assert sql(client_for(plain_user), "SELECT 1 AS one")[1]["status"] == "ok"


def test_process_cap_keeps_threads_for_pages(client_for, plain_user, broker_user, settings):
    settings.SQL_MAX_CONCURRENT_PER_PROCESS = 1
    lease = acquire_slot(user_id=broker_user.pk, timeout_ms=60_000)
    try:
        _status, data = sql(client_for(plain_user), "SELECT 1 AS one")
        assert data["status"] == "error"
        assert "SQL_MAX_CONCURRENT_PER_PROCESS" in data["error"]
    finally:
        lease.release()


def test_time_limit_covers_the_whole_request(client_for, plain_user, settings):
    """Regression: the limit was per statement, so many short sleeps ran for minutes."""
    settings.SQL_STATEMENT_TIMEOUT_MS = 1000
    started = time.monotonic()
    _status, data = sql(client_for(plain_user), ["SELECT pg_sleep(0.4)"] * 6 + ["SELECT 1 AS one"])
    assert time.monotonic() - started < 2.5
    assert data["status"] == "error"
    assert "time limit of 1000 ms for the whole request" in data["error"]


def test_statements_per_request_are_capped(client_for, plain_user, settings):
    settings.SQL_MAX_STATEMENTS = 5
    status, data = sql(client_for(plain_user), "SELECT 1; " * 6)
    assert (status, data["status"]) == (200, "error")
    assert "at most 5 statements (SQL_MAX_STATEMENTS)" in data["error"]


STATEMENT_FLOOD = "select pg_sleep(50); " * 47000  # about 1 MB


@pytest.fixture
def no_sqlparse_grouping(monkeypatch):
    """sqlparse's grouping (the costly part of parsing) fails the test if called."""

    def refuse(stmt):
        raise AssertionError("sqlparse grouped a statement")

    monkeypatch.setattr(sqlparse.engine.grouping, "group", refuse)


@pytest.mark.parametrize("url", ["/db/runsqlquery/", "/db/submitsqlquery/"])
def test_sql_text_size_is_checked_before_anything_else(client_for, plain_user, caplog, no_sqlparse_grouping, url):
    """Regression: 47,000 statements (1 MB) were parsed whole by sqlparse
    (about 50 s of CPU), outside any slot or time limit, before the statement
    count refused them."""
    caplog.set_level(logging.INFO, logger="db.sql")
    response = client_for(plain_user).post(url, {"query": STATEMENT_FLOOD}, format="json")
    assert response.status_code == 200
    data = json.loads(body(response))
    assert data["status"] == "error"
    assert data["error"].startswith("the SQL text is 987000 bytes, more than the limit of 102400 bytes")
    assert "(setting SQL_MAX_QUERY_BYTES)" in data["error"]
    assert not [r for r in caplog.records if r.getMessage().startswith("sql start")]  # nothing ran
    assert not LongQuery.objects.exists()


def test_statements_are_counted_before_any_is_parsed(client_for, plain_user, settings, caplog, no_sqlparse_grouping):
    settings.SQL_MAX_QUERY_BYTES = 2_000_000
    caplog.set_level(logging.INFO, logger="db.sql")
    _status, data = sql(client_for(plain_user), STATEMENT_FLOOD)
    assert data["status"] == "error"
    assert data["error"] == (
        "a request may hold at most 100 statements (SQL_MAX_STATEMENTS), this one has more than 100"
    )
    assert not [r for r in caplog.records if r.getMessage().startswith("sql done")]  # no connection was opened


def test_statements_are_parsed_under_the_users_slot(client_for, plain_user, settings):
    """Parsing is the costly part of a request's checks: it waits for a slot
    like running does (a long query's statements, checked at submission, too)."""
    settings.SQL_MAX_CONCURRENT_PER_USER = 1
    lease = acquire_slot(user_id=plain_user.pk, timeout_ms=60_000)
    try:
        _status, data = sql(client_for(plain_user), "SET statement_timeout = 0")
        assert data["status"] == "error"
        assert "SQL_MAX_CONCURRENT_PER_USER" in data["error"]
        submitted = client_for(plain_user).post("/db/submitsqlquery/", {"query": "SELECT 1"}, format="json").json()
        assert submitted["status"] == "error"
        assert "SQL_MAX_CONCURRENT_PER_USER" in submitted["error"]
    finally:
        lease.release()
    _status, data = sql(client_for(plain_user), "SET statement_timeout = 0")
    assert data["error"].startswith("SET is not allowed")


def test_query_too_long_for_the_checker_is_an_error_not_a_500(client_for, plain_user):
    query = "SELECT " + ", ".join(["1"] * 12000)
    status, data = sql(client_for(plain_user), query)
    assert (status, data["status"]) == (200, "error")
    assert "too complex to check" in data["error"]
    response = client_for(plain_user).post("/db/submitsqlquery/", {"query": query}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "error"


def test_wide_rows_stream_in_small_batches(client_for, plain_user):
    """Regression: 300 rows of 1 MB grew a web worker by 1.4 GB (5,000-row batches)."""
    response = client_for(plain_user).post(
        "/db/runsqlquery/", {"query": "SELECT repeat('x', 1000000) AS wide FROM generate_series(1, 100)"}, format="json"
    )
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 100_000_000
    assert peak < 80_000_000, peak  # one batch of about BATCH_BYTES and its JSON, never the result


def test_response_size_is_capped(client_for, plain_user, settings):
    settings.SQL_MAX_RESPONSE_BYTES = 100_000
    _status, data = sql(client_for(plain_user), "SELECT repeat('y', 1000) AS s FROM generate_series(1, 1000)")
    assert data["status"] == "error"
    assert "larger than 100000 bytes (setting SQL_MAX_RESPONSE_BYTES)" in data["error"]
    response = client_for(plain_user).post(
        "/db/runsqlquery/",
        {"query": "SELECT repeat('y', 1000) AS s FROM generate_series(1, 1000)", "format": "csv"},
        format="json",
    )
    assert body(response).decode().splitlines()[-1].startswith("#ERROR: the response is larger than 100000 bytes")


def test_every_type_is_valid_json_and_duplicate_names_are_kept(client_for, plain_user):
    """Regression: inet/range columns cut the response short, NaN/Infinity were
    invalid JSON, and `SELECT 1 AS a, 2 AS a` lost a value; jsonb holding an
    integer past 64 bits or nested past orjson's 254 levels cut the response
    short after its 200, and jsonb nested past Python's parser failed the fetch."""
    response = client_for(plain_user).post(
        "/db/runsqlquery/",
        {
            "query": "SELECT inet '10.1.2.3' AS ip, cidr '10.1.0.0/16' AS net, int4range(1, 5) AS r, "
            "'NaN'::float8 AS nan, 'Infinity'::float8 AS inf, '-Infinity'::real AS ninf, interval '1 day' AS i, "
            "1.5::numeric AS n, '\\xdead'::bytea AS b, '00000000-0000-0000-0000-000000000001'::uuid AS u, "
            "point(1, 2) AS p, 1 AS a, 2 AS a, TIMESTAMPTZ '2023-05-01 12:00:00.123456+00' AS t, "
            "'123456789012345678901234567890'::jsonb AS big, "
            "'{\"k\": [123456789012345678901234567890]}'::jsonb AS bigk, "
            "(repeat('[', 300) || repeat(']', 300))::jsonb AS deep, "
            "(repeat('[', 3000) || repeat(']', 3000))::jsonb AS deeper, '{\"x\": [1, 2.5, null]}'::jsonb AS j"
        },
        format="json",
    )
    data = _strict_json(body(response))
    assert data["status"] == "ok"
    row = data["rows"][0]
    assert data["columns"] == list(row)
    assert data["columns"][-8:-5] == ["a", "a_1", "t"]
    assert row["ip"] == "10.1.2.3"
    assert row["net"] == "10.1.0.0/16"
    assert row["r"] == "[1, 5)"
    assert (row["nan"], row["inf"], row["ninf"]) == (None, None, None)
    assert row["n"] == "1.5"
    assert row["b"] == "dead"
    assert row["u"] == "00000000-0000-0000-0000-000000000001"
    assert (row["a"], row["a_1"]) == (1, 2)
    assert row["t"] == "2023-05-01T12:00:00.123Z"
    assert row["p"] == "(1,2)"
    assert row["i"]
    assert row["big"] == "123456789012345678901234567890"
    assert json.loads(row["bigk"]) == {"k": [123456789012345678901234567890]}
    assert row["deep"] == "[" * 300 + "]" * 300
    assert row["deeper"] == "[" * 3000 + "]" * 3000
    assert row["j"] == {"x": [1, 2.5, None]}


@pytest.mark.parametrize(
    ("select", "columns"),
    [
        ("1 AS a, 2 AS a, 3 AS a_1", ["a", "a_2", "a_1"]),
        ("1 AS a, 2 AS a, 3 AS a, 4 AS a_1, 5 AS a_2", ["a", "a_3", "a_4", "a_1", "a_2"]),
        ("1 AS a_1, 2 AS a, 3 AS a, 4 AS a_1", ["a_1", "a", "a_2", "a_1_1"]),
    ],
)
def test_json_columns_are_the_row_keys(client_for, plain_user, select, columns):
    """Regression: `columns` listed the result's names (`a, a, a_1`) while the
    rows were keyed `a, a_2, a_1`, so a client zipping them misplaced values."""
    _status, data = sql(client_for(plain_user), f"SELECT {select}")
    assert data["status"] == "ok"
    assert data["columns"] == columns
    assert list(data["rows"][0]) == columns
    assert list(data["rows"][0].values()) == list(range(1, len(columns) + 1))


def test_long_query_quota_per_user(client_for, plain_user, broker_user, settings):
    """Regression: 100 submissions in a second starved other users for 48 s."""
    settings.LONG_QUERY_MAX_PENDING_PER_USER = 2
    client = client_for(plain_user)
    for _ in range(2):
        assert client.post("/db/submitsqlquery/", {"query": "SELECT 1"}, format="json").json()["status"] == "ok"
    refused = client.post("/db/submitsqlquery/", {"query": "SELECT 1"}, format="json").json()
    assert refused["status"] == "error"
    assert "LONG_QUERY_MAX_PENDING_PER_USER" in refused["error"]
    other = client_for(broker_user).post("/db/submitsqlquery/", {"query": "SELECT 1"}, format="json").json()
    assert other["status"] == "ok"


def test_long_queries_are_taken_fairly(plain_user, broker_user):
    busy = submit_long_query(plain_user, "SELECT 1", status=LongQuery.Status.STARTED)
    first_of_busy_user = submit_long_query(plain_user, "SELECT 2")
    later_of_idle_user = submit_long_query(broker_user, "SELECT 3")
    assert busy.status == LongQuery.Status.STARTED
    assert first_of_busy_user.submitted < later_of_idle_user.submitted
    claimed = long_queries.claim_next(runner_id="test")
    assert claimed.pk == later_of_idle_user.pk


@pytest.mark.django_db(transaction=True)
def test_pandas_format_and_numpy_refusal(client_for, plain_user, settings, tmp_path):
    settings.LONG_QUERY_DIR = tmp_path
    client = client_for(plain_user)
    refused = client.post("/db/submitsqlquery/", {"query": "SELECT 1", "format": "numpy"}, format="json").json()
    assert refused["status"] == "error"
    assert "numpy is not supported" in refused["error"]
    queryid = client.post(
        "/db/submitsqlquery/",
        {"query": "SELECT classid, name FROM elasticc_classid WHERE classid IN (111, 2222)", "format": "pandas"},
        format="json",
    ).json()["queryid"]
    assert long_queries.run_pending(runner_id="test", stop=threading.Event()) == 1
    response = client.post(f"/db/getsqlqueryresults/{queryid}/")
    assert response["Content-Type"] == "application/octet-stream"
    frame = pd.read_pickle(io.BytesIO(body(response)))
    assert sorted(frame["classid"].tolist()) == [111, 2222]


def test_user_role_cannot_write_or_escalate(plain_user):
    role, password = user_sql_role(user_id=plain_user.pk)
    with connect(user=role, password=password) as conn:
        with pytest.raises(psycopg.Error):
            conn.execute("CREATE TABLE x (i int)")
        conn.rollback()
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT * FROM auth_user")
        conn.rollback()
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT * FROM db_sqlslot")


def test_csv_comes_from_copy_with_the_same_role_limits_and_row_cap(client_for, plain_user, settings):
    """format=csv streams PostgreSQL's own CSV (COPY ... TO STDOUT) in the same
    role, transaction and limits: quoted newlines and quotes survive, the row
    cap holds exactly, a forbidden table stays forbidden."""
    settings.SQL_MAX_ROWS = 3
    client = client_for(plain_user)

    def csv(query, subdict=None):
        data = {"query": query, "format": "csv", **({"subdict": subdict} if subdict else {})}
        return body(client.post("/db/runsqlquery/", data, format="json")).decode()

    text = csv("SELECT i, %(s)s || i AS s FROM generate_series(1, 3) AS i", {"s": 'a "quoted"\nline '})
    assert text == 'i,s\n1,"a ""quoted""\nline 1"\n2,"a ""quoted""\nline 2"\n3,"a ""quoted""\nline 3"\n'
    over = csv("SELECT i, 'x\ny' AS s FROM generate_series(1, 10) AS i")
    lines = over.split("\n")
    assert over.count('"x\ny"') == 3
    assert lines[-2].startswith("#ERROR: query returned more than the row limit of 3 rows (setting SQL_MAX_ROWS)")
    denied = client.post(
        "/db/runsqlquery/", {"query": "SELECT * FROM elasticc_diaobjecttruth", "format": "csv"}, format="json"
    )
    assert json.loads(body(denied))["status"] == "error"
    assert "permission denied" in json.loads(body(denied))["error"]


def test_csv_row_ends_are_counted_across_chunks():
    rows = CsvRowEnds()
    text = b'h\n"a\nb",1\nc,"d""\n"\ne\n'
    for i in range(len(text)):
        assert rows.feed(text[i : i + 1])[1] is False
    assert rows.count == 4
    assert CsvRowEnds().feed(text) == (len(text), False)
    assert CsvRowEnds().feed(text, limit=4) == (len(b'h\n"a\nb",1\nc,"d""\n"\n'), True)
