"""Long queries: submit/check/get over HTTP, the runner's queue discipline
(SKIP LOCKED claims, heartbeats, recovery of killed runners, SIGTERM), and
pruning. The runner reads the queue through its own connections, so these
tests are transactional."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from db import long_queries
from db.models import LongQuery
from tests.builders import submit_long_query
from tests.responses import body

pytestmark = pytest.mark.django_db(transaction=True)
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def result_dir(tmp_path, settings):
    settings.LONG_QUERY_DIR = tmp_path / "results"
    return settings.LONG_QUERY_DIR


def _submit(client, query, fmt="csv", subdict=None) -> str:
    data = {"query": query, "format": fmt}
    if subdict is not None:
        data["subdict"] = subdict
    response = client.post("/db/submitsqlquery/", data, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] == "ok"
    return answer["queryid"]


def _check(client, queryid) -> dict:
    response = client.post(f"/db/checksqlquery/{queryid}/")
    assert response.status_code == 200, response.content
    return response.json()


def _run_all() -> int:
    return long_queries.run_pending(runner_id="test-runner", stop=threading.Event())


def test_submit_check_and_fetch_csv_and_parquet(client_for, broker_user, result_dir):
    client = client_for(broker_user)
    query = [
        "CREATE TEMP TABLE picked AS SELECT classid, name, level FROM elasticc_classid WHERE classid IN %(ids)s",
        "SELECT classid, name, level, TIMESTAMPTZ '2023-01-02 03:04:05+00' AS t, 1.5::numeric AS n "
        "FROM picked ORDER BY classid",
    ]
    subdict = [{"ids": [111, 121]}, {}]
    csv_id = _submit(client, query, "csv", subdict)
    parquet_id = _submit(client, query, "parquet", subdict)

    status = _check(client, csv_id)
    assert status["status"] == "queued"
    assert "submitted" in status
    assert "started" not in status
    assert "finished" not in status
    early = client.post(f"/db/getsqlqueryresults/{csv_id}/")
    assert early.status_code == 200  # SQL endpoint errors are 200 {status: error}, as the original
    assert early.json() == {"status": "error", "error": f"query {csv_id} is queued, not finished"}

    assert _run_all() == 2

    status = _check(client, csv_id)
    assert status["status"] == "finished"
    assert status["started"] <= status["finished"]
    response = client.post(f"/db/getsqlqueryresults/{csv_id}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert body(response).decode() == (
        "classid,name,level,t,n\n111,Ia,3,2023-01-02 03:04:05+00,1.5\n121,KN,3,2023-01-02 03:04:05+00,1.5\n"
    )
    response = client.post(f"/db/getsqlqueryresults/{parquet_id}/")
    assert response.status_code == 200
    frame = pd.read_parquet(io.BytesIO(body(response)))
    assert frame["classid"].tolist() == [111, 121]
    assert frame["name"].tolist() == ["Ia", "KN"]
    assert str(frame["t"].dt.tz) == "UTC"
    assert frame["n"].tolist() == [1.5, 1.5]
    assert sorted(p.name for p in result_dir.iterdir()) == sorted([f"{csv_id}.csv", f"{parquet_id}.parquet"])


def test_parquet_keeps_types_nulls_and_empty_strings(client_for, plain_user, result_dir):
    """Parquet is parsed from PostgreSQL's CSV (COPY): each type, NULL apart
    from '', NaN, bytea as hex and a newline inside a value survive."""
    client = client_for(plain_user)
    query = (
        "SELECT * FROM (VALUES "
        "(1::bigint, 2.5::float8, 0.25::float4, 1.50::numeric, true, DATE '2024-02-29', "
        "TIMESTAMPTZ '2024-01-01 00:00:00.25+00', TIMESTAMP '2024-01-01 12:00:00', 'a,\"b\"' || chr(10) || 'c', "
        "'\\x00ff'::bytea, '{\"k\": 1}'::jsonb, INTERVAL '1 day'), "
        "(2, 'NaN', NULL, NULL, false, NULL, NULL, NULL, '', NULL, NULL, NULL)"
        ") AS v(i, f8, f4, n, b, d, tz, ts, s, raw, j, iv)"
    )
    queryid = _submit(client, query, "parquet")
    empty_id = _submit(client, "SELECT 1 AS one WHERE false", "parquet")
    _run_all()
    frame = pd.read_parquet(io.BytesIO(body(client.post(f"/db/getsqlqueryresults/{queryid}/"))))
    first, second = frame.to_dict("records")
    assert (first["i"], first["f8"], first["f4"], first["n"]) == (1, 2.5, 0.25, 1.5)
    assert (first["b"], second["b"]) == (True, False)
    assert str(first["d"]) == "2024-02-29"
    assert first["tz"] == pd.Timestamp("2024-01-01 00:00:00.25", tz="UTC")
    assert first["ts"] == pd.Timestamp("2024-01-01 12:00:00")
    assert (first["s"], second["s"]) == ('a,"b"\nc', "")
    assert (first["raw"], first["j"], first["iv"]) == ("00ff", '{"k": 1}', "1 day")
    assert [pd.isna(second[c]) for c in ("f8", "f4", "n", "d", "tz", "ts", "raw", "j", "iv")] == [True] * 9
    empty = pd.read_parquet(io.BytesIO(body(client.post(f"/db/getsqlqueryresults/{empty_id}/"))))
    assert (list(empty.columns), len(empty)) == (["one"], 0)


def test_parquet_error_after_rows_fails_the_query_and_leaves_no_file(client_for, plain_user, result_dir):
    query = "SELECT 1 / (i - 150000) AS x FROM generate_series(1, 200000) i"
    queryid = _submit(client_for(plain_user), query, "parquet")
    _run_all()
    query = LongQuery.objects.get(pk=queryid)
    assert query.status == LongQuery.Status.ERROR
    assert "division by zero" in query.error
    assert list(result_dir.iterdir()) == []


def test_only_the_owner_sees_a_query(client_for, broker_user, plain_user, result_dir):
    queryid = _submit(client_for(broker_user), "SELECT 1 AS one")
    _run_all()
    other = client_for(plain_user)
    for url in (f"/db/checksqlquery/{queryid}/", f"/db/getsqlqueryresults/{queryid}/"):
        response = other.post(url)
        assert response.status_code == 200  # SQL endpoint errors are 200 {status: error}, as the original
        assert response.json()["status"] == "error"
        assert APIClient().post(url).status_code == 403
    assert client_for(broker_user).post(f"/db/getsqlqueryresults/{queryid}/").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "csv"}, "POST data must include 'query'"),
        ({"query": "SELECT 1", "format": "xlsx"}, "format must be one of csv, parquet, pandas"),
        ({"query": "SELECT 1", "format": "numpy"}, "format numpy is not supported"),
        ({"query": "SET statement_timeout = 0", "format": "csv"}, "SET is not allowed"),
        ({"query": ["SELECT 1", "SELECT 2"], "subdict": [{}]}, "number of queries and subdicts must match"),
    ],
)
def test_submit_rejects_bad_requests(client_for, plain_user, data, message):
    response = client_for(plain_user).post("/db/submitsqlquery/", data, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["error"].startswith(message)
    assert not LongQuery.objects.exists()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("SELECT * FROM elasticc_diaobjecttruth", "permission denied for table elasticc_diaobjecttruth"),
        ("SELEC 1", 'syntax error at or near "SELEC"'),
    ],
)
def test_sql_errors_and_role_rules_apply(client_for, broker_user, result_dir, query, error):
    client = client_for(broker_user)
    queryid = _submit(client, query)
    _run_all()
    status = _check(client, queryid)
    assert status["status"] == "error"
    assert error in status["error"]
    response = client.post(f"/db/getsqlqueryresults/{queryid}/")
    assert response.status_code == 200  # SQL endpoint errors are 200 {status: error}, as the original
    assert response.json()["status"] == "error"
    assert error in response.json()["error"]
    assert not any(result_dir.iterdir())


@pytest.mark.parametrize("queryid", ["not-a-uuid", "12345", "0" * 200])
def test_a_malformed_query_id_is_a_200_error_not_an_html_404(client_for, plain_user, queryid):
    """The original's clients raise on anything but HTTP 200 (issue 12, item 7)."""
    for url in (f"/db/checksqlquery/{queryid}/", f"/db/getsqlqueryresults/{queryid}/"):
        response = client_for(plain_user).post(url)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        assert response.json()["status"] == "error"
        assert "is not a query id" in response.json()["error"]
        assert APIClient().post(url).status_code == 403  # authentication still comes first


def test_long_query_timeout_names_the_limit(client_for, plain_user, result_dir, settings):
    settings.LONG_QUERY_TIMEOUT_MS = 500
    queryid = _submit(client_for(plain_user), "SELECT pg_sleep(5)")
    _run_all()
    status = _check(client_for(plain_user), queryid)
    assert status["error"] == (
        "query exceeded the time limit of 500 ms for the whole request (setting LONG_QUERY_TIMEOUT_MS)"
    )


def test_no_row_cap_for_long_queries(client_for, plain_user, result_dir, settings):
    settings.SQL_MAX_ROWS = 10
    queryid = _submit(client_for(plain_user), "SELECT generate_series(1, 120000) AS i", "parquet")
    _run_all()
    query = LongQuery.objects.get(pk=queryid)
    assert query.status == "finished"
    assert query.rows == 120000
    assert pd.read_parquet(query.result_path)["i"].sum() == 120000 * 120001 // 2


@pytest.mark.parametrize(
    ("query", "fmt"),
    [
        ("SELECT generate_series(1, 50) AS i", "csv"),  # CSV from COPY
        ("SELECT generate_series(1, 50) AS i", "parquet"),
        # Not row-returning for the checker: rows fetched through a cursor.
        ("EXPLAIN SELECT * FROM generate_series(1, 9) AS a JOIN generate_series(1, 9) AS b ON a = b", "csv"),
    ],
)
def test_long_query_row_cap_names_its_setting(client_for, plain_user, result_dir, settings, query, fmt):
    """Regression: the row cap of a long query told its user to submit it as a long query."""
    settings.LONG_QUERY_MAX_ROWS = 3
    queryid = _submit(client_for(plain_user), query, fmt)
    _run_all()
    status = _check(client_for(plain_user), queryid)
    assert status["status"] == "error"
    assert status["error"] == (
        "query returned more than the row limit of 3 rows (setting LONG_QUERY_MAX_ROWS); add a LIMIT"
    )
    assert not any(result_dir.iterdir())


@pytest.mark.parametrize("fmt", ["csv", "parquet", "pandas"])
def test_long_query_byte_cap(client_for, plain_user, result_dir, settings, fmt):
    settings.LONG_QUERY_MAX_BYTES = 100_000
    settings.LONG_QUERY_PANDAS_MAX_BYTES = 10_000_000
    client = client_for(plain_user)
    over = _submit(client, "SELECT i, md5(i::text) AS h FROM generate_series(1, 20000) AS i", fmt)
    under = _submit(client, "SELECT i, md5(i::text) AS h FROM generate_series(1, 100) AS i", fmt)
    _run_all()
    status = _check(client, over)
    assert status["status"] == "error"
    assert status["error"].startswith("the result is larger than 100000 bytes (setting LONG_QUERY_MAX_BYTES)")
    assert _check(client, under)["status"] == "finished"
    assert [path.name for path in result_dir.iterdir()] == [f"{under}.{fmt}"]


def test_pandas_result_held_in_memory_is_capped(client_for, plain_user, result_dir, settings):
    """Regression: the pandas format built one DataFrame of the whole result
    (300 rows of 1 MB grew the runner by 625 MB and kept it): the rows read
    are counted and the query stops once they pass LONG_QUERY_PANDAS_MAX_BYTES."""
    settings.LONG_QUERY_PANDAS_MAX_BYTES = 1_000_000
    client = client_for(plain_user)
    query = "SELECT i, repeat('x', 10000) AS s FROM generate_series(1, 300) AS i"
    refused = _submit(client, query, "pandas")
    as_parquet = _submit(client, query, "parquet")
    small = _submit(client, "SELECT i, repeat('x', 10000) AS s FROM generate_series(1, 30) AS i", "pandas")
    _run_all()
    status = _check(client, refused)
    assert status["status"] == "error"
    assert status["error"] == (
        "the result is larger than 1000000 bytes in memory (setting LONG_QUERY_PANDAS_MAX_BYTES), too large "
        "for one pandas DataFrame; use format parquet or csv, or select fewer rows or columns"
    )
    assert _check(client, as_parquet)["status"] == "finished"  # the cap is the pandas format's only
    frame = pd.read_pickle(io.BytesIO(body(client.post(f"/db/getsqlqueryresults/{small}/"))))
    assert frame["i"].tolist() == list(range(1, 31))
    assert not (result_dir / f"{refused}.pandas").exists()


def test_claim_skips_rows_locked_by_another_runner(plain_user):
    first = submit_long_query(plain_user, "SELECT 1")
    second = submit_long_query(plain_user, "SELECT 2")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute("SELECT id FROM db_longquery WHERE id = %s FOR UPDATE", [first.id])
        started = time.monotonic()
        claimed = long_queries.claim_next(runner_id="runner-b")
        assert time.monotonic() - started < 2
        assert claimed.pk == second.pk
        assert long_queries.claim_next(runner_id="runner-b") is None
    claimed = long_queries.claim_next(runner_id="runner-c")
    assert claimed.pk == first.pk
    assert (claimed.status, claimed.runner_id, claimed.attempts) == ("started", "runner-c", 1)


def test_heartbeat_advances_while_a_query_runs(plain_user, result_dir, monkeypatch):
    monkeypatch.setattr(long_queries, "HEARTBEAT_SECONDS", 0.3)
    submit_long_query(plain_user, "SELECT pg_sleep(2.5) AS slept")
    claimed = long_queries.claim_next(runner_id="beating")
    worker = threading.Thread(
        target=long_queries.execute_claimed,
        kwargs={"query": claimed, "runner_id": "beating", "stop": threading.Event()},
    )
    worker.start()
    beats = set()
    while worker.is_alive():
        row = LongQuery.objects.get(pk=claimed.pk)
        if row.status == "started":
            beats.add(row.heartbeat)
        time.sleep(0.1)
    worker.join()
    assert len(beats) >= 4
    assert LongQuery.objects.get(pk=claimed.pk).status == "finished"


def test_runner_that_lost_its_query_cancels_and_writes_nothing(plain_user, result_dir, monkeypatch):
    monkeypatch.setattr(long_queries, "HEARTBEAT_SECONDS", 0.3)
    submit_long_query(plain_user, "SELECT pg_sleep(20) AS slept")
    claimed = long_queries.claim_next(runner_id="slow")
    worker = threading.Thread(
        target=long_queries.execute_claimed, kwargs={"query": claimed, "runner_id": "slow", "stop": threading.Event()}
    )
    started = time.monotonic()
    worker.start()
    time.sleep(1)
    LongQuery.objects.filter(pk=claimed.pk).update(status="started", runner_id="other")  # re-queued and re-claimed
    worker.join(timeout=15)
    assert not worker.is_alive()
    assert time.monotonic() - started < 8
    row = LongQuery.objects.get(pk=claimed.pk)
    assert (row.status, row.runner_id, row.result_path) == ("started", "other", None)
    assert not result_dir.exists() or not any(result_dir.iterdir())


def _runner(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "long_query_runner", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_two_runners_never_take_the_same_query(subprocess_env, plain_user, tmp_path):
    subprocess_env["LONG_QUERY_DIR"] = str(tmp_path)
    # Long enough that a runner slow to start (a loaded machine) still finds work left.
    ids = [submit_long_query(plain_user, f"SELECT {i} AS i, pg_sleep(1.5)").pk for i in range(8)]
    runners = [_runner(subprocess_env, "--once") for _ in range(2)]
    for runner in runners:
        _out, err = runner.communicate(timeout=180)
        assert runner.returncode == 0, err
    queries = list(LongQuery.objects.filter(pk__in=ids))
    assert {q.status for q in queries} == {"finished"}
    assert {q.attempts for q in queries} == {1}
    assert len({q.runner_id for q in queries}) == 2
    for q in queries:
        assert Path(q.result_path).read_text().startswith("i,pg_sleep\n")


@pytest.mark.slow
def test_killed_runner_query_is_requeued_then_failed_with_reason(subprocess_env, plain_user, tmp_path):
    subprocess_env["LONG_QUERY_DIR"] = str(tmp_path)
    query = submit_long_query(plain_user, "SELECT pg_sleep(15)")
    runner = _runner(subprocess_env, "--loop", "--poll", "0.5")
    try:
        _wait_for(lambda: LongQuery.objects.get(pk=query.pk).status == "started")
    finally:
        runner.kill()
        runner.communicate()
    time.sleep(0.1)
    assert long_queries.recover_stale(stale_after=timedelta(0)) == (1, 0)
    query.refresh_from_db()
    assert (query.status, query.runner_id, query.attempts) == ("queued", None, 1)

    claimed = long_queries.claim_next(runner_id="doomed")  # a second runner that dies too
    LongQuery.objects.filter(pk=claimed.pk).update(heartbeat=timezone.now() - timedelta(minutes=5))
    assert long_queries.recover_stale() == (0, 1)
    query.refresh_from_db()
    assert query.status == "error"
    assert query.error == (
        "runner doomed stopped sending heartbeats (none for 60 s) on attempt 2 of 2; the query was not retried"
    )
    assert query.finished is not None


@pytest.mark.slow
def test_sigterm_cancels_the_query_and_puts_it_back(subprocess_env, plain_user, tmp_path):
    subprocess_env["LONG_QUERY_DIR"] = str(tmp_path)
    query = submit_long_query(plain_user, "SELECT pg_sleep(30) AS slept")
    runner = _runner(subprocess_env, "--loop", "--poll", "0.5")
    _wait_for(lambda: LongQuery.objects.get(pk=query.pk).status == "started")
    time.sleep(0.5)
    runner.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, err = runner.communicate(timeout=20)
    assert runner.returncode == 0, err
    assert time.monotonic() - started < 10
    assert "stopped" in out
    query.refresh_from_db()
    assert (query.status, query.runner_id, query.attempts, query.started) == ("queued", None, 0, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30) AS slept'")
        assert cursor.fetchone()[0] == 0
    assert not list(tmp_path.iterdir())


def test_prune_deletes_old_results_with_their_files(plain_user, tmp_path):
    def finished(days_ago: float) -> LongQuery:
        path = tmp_path / f"{days_ago}.csv"
        path.write_text("a\n1\n")
        return submit_long_query(
            plain_user,
            "SELECT 1 AS a",
            status="finished",
            finished=timezone.now() - timedelta(days=days_ago),
            result_path=str(path),
        )

    old, recent = finished(10), finished(1)
    failed = submit_long_query(plain_user, "x", status="error", finished=timezone.now() - timedelta(days=30))
    waiting = submit_long_query(plain_user, "SELECT 1", submitted=timezone.now() - timedelta(days=30))
    out = io.StringIO()
    call_command("long_query_runner", "--prune", "7", stdout=out)
    assert out.getvalue().strip() == "pruned 2 long queries"
    remaining = set(LongQuery.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, waiting.pk}
    assert not Path(old.result_path).exists()
    assert Path(recent.result_path).exists()
    assert failed.pk not in remaining


def test_runner_command_rejects_bad_arguments():
    with pytest.raises(CommandError):
        call_command("long_query_runner")
    with pytest.raises(CommandError, match="--prune DAYS must be >= 0"):
        call_command("long_query_runner", "--prune", "-1")


def test_pruned_result_is_gone(client_for, plain_user, result_dir):
    queryid = _submit(client_for(plain_user), "SELECT 1 AS one")
    _run_all()
    os.unlink(LongQuery.objects.get(pk=queryid).result_path)
    response = client_for(plain_user).post(f"/db/getsqlqueryresults/{queryid}/")
    assert response.status_code == 200  # SQL endpoint errors are 200 {status: error}, as the original
    assert json.loads(response.content)["error"] == f"the result of query {queryid} is no longer available"
