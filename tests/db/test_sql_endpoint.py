"""POST /db/runsqlquery/: the contract in the README's "SQL over HTTP and long queries".

The endpoint reads through its own connection as a read-only role, so the
sample rows it reads are committed once for the module (and deleted at its
end); each test's users live in the test's own transaction, which only the
Django connection (choosing the role) needs to see.
"""

import json
import logging
import time
import tracemalloc

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from tests.builders import delete_small_sample, insert_small_sample
from tests.db.responses import sql
from tests.responses import body

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sample(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield insert_small_sample()
        delete_small_sample()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "POST data must include 'query'"),
        ({"query": 5}, "query must be either a list of strings or a string"),
        ({"query": ["SELECT 1", 2]}, "queries must all be strings"),
        ({"query": "SELECT 1", "subdict": "x"}, "subdict must be either a list of dicts or a dict"),
        ({"query": ["SELECT 1"], "subdict": [1]}, "subdicts must all be dicts"),
        ({"query": ["SELECT 1", "SELECT 2"], "subdict": [{}]}, "number of queries and subdicts must match"),
    ],
)
def test_validation_messages_are_verbatim(client_for, plain_user, data, message):
    response = client_for(plain_user).post("/db/runsqlquery/", data, format="json")
    assert response.status_code == 200  # as the original: its clients raise on any other status
    assert json.loads(body(response)) == {"status": "error", "error": message}


def test_rows_of_last_query_with_iso_datetimes(client_for, admin_user, sample):
    status, data = sql(
        client_for(admin_user),
        [
            "SELECT 1 AS ignored",
            "SELECT diaobjectid, ra, isddf, TIMESTAMPTZ '2023-05-01 12:00:00+00' AS t "
            "FROM elasticc_diaobject ORDER BY diaobjectid",
        ],
    )
    assert status == 200
    assert data["status"] == "ok"
    assert data["rows"] == [
        {"diaobjectid": 101, "ra": 10.0, "isddf": False, "t": "2023-05-01T12:00:00Z"},
        {"diaobjectid": 102, "ra": 11.0, "isddf": False, "t": "2023-05-01T12:00:00Z"},
        {"diaobjectid": 103, "ra": 12.0, "isddf": True, "t": "2023-05-01T12:00:00Z"},
    ]


def test_subdict_list_values_become_tuples(client_for, broker_user, sample):
    status, data = sql(
        client_for(broker_user),
        [
            "SELECT %(x)s::int AS x",
            "SELECT classid, probability FROM elasticc_brokerclassification "
            "WHERE classid IN %(ids)s AND probability > %(p)s ORDER BY probability",
        ],
        [{"x": 1}, {"ids": [112, 132], "p": 0.1}],
    )
    assert status == 200, data
    assert data["rows"] == [
        {"classid": 112, "probability": pytest.approx(0.2)},
        {"classid": 132, "probability": pytest.approx(0.7)},
    ]


def test_list_values_of_any_length_empty_and_outside_in(client_for, broker_user, sample):
    client = client_for(broker_user)
    many = [*range(200_000, 270_000), 111]  # more than PostgreSQL's 65535 parameters
    status, data = sql(
        client, "SELECT DISTINCT classid FROM elasticc_brokerclassification WHERE classid in %(ids)s", {"ids": many}
    )
    assert status == 200, data
    assert data["rows"] == [{"classid": 111}]
    status, data = sql(
        client,
        "SELECT (SELECT count(*) FROM elasticc_classid WHERE classid IN %(none)s) AS inside, "
        "(SELECT count(*) FROM elasticc_classid WHERE classid NOT IN %(none)s) AS outside, "
        "(SELECT count(*) FROM elasticc_classid WHERE classid NOT IN %(two)s) AS rest, "
        "%(two)s = ROW(111, 112) AS as_row",
        {"none": [], "two": [111, 112]},
    )
    assert status == 200, data
    (row,) = data["rows"]
    assert row["inside"] == 0
    assert row["outside"] == row["rest"] + 2
    assert row["as_row"] is True


def test_overlong_query_text_is_refused(client_for, plain_user):
    status, data = sql(client_for(plain_user), "SELECT 1 " + " " * 1_000_000)
    assert status == 200
    assert data["error"].startswith("the SQL text is 1000009 bytes, more than the limit of 102400 bytes")


def test_percent_literal_without_subdict(client_for, broker_user):
    status, data = sql(
        client_for(broker_user), "SELECT relname FROM pg_class WHERE relname LIKE 'elasticc\\_classid%' ORDER BY 1"
    )
    assert status == 200, data
    assert {"relname": "elasticc_classid"} in data["rows"]


def test_temporary_tables_work_and_vanish(client_for, broker_user, sample):
    client = client_for(broker_user)
    status, data = sql(
        client,
        "CREATE TEMP TABLE best AS SELECT DISTINCT ON (brokermessageid) brokermessageid, classid "
        "FROM elasticc_brokerclassification ORDER BY brokermessageid, probability DESC; "
        "SELECT classid FROM best ORDER BY classid",
    )
    assert status == 200, data
    assert data["rows"] == [{"classid": 111}, {"classid": 132}]
    status, data = sql(client, "SELECT * FROM best")
    assert status == 200
    assert 'relation "best" does not exist' in data["error"]


def test_csv_format(client_for, broker_user, sample):
    response = client_for(broker_user).post(
        "/db/runsqlquery/",
        {
            "query": "SELECT classid, name FROM elasticc_classid WHERE classid IN (111, 121) ORDER BY classid",
            "format": "csv",
        },
        format="json",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert body(response).decode() == "classid,name\n111,Ia\n121,KN\n"


def _fingerprint() -> tuple:
    """What a successful attack would change: tables, roles' privileges, row counts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")
        tables = cursor.fetchall()
        cursor.execute(
            "SELECT (SELECT count(*) FROM elasticc_classid), (SELECT count(*) FROM elasticc_brokermessage), "
            "(SELECT sum(probability) FROM elasticc_brokerclassification), (SELECT count(*) FROM auth_user), "
            "(SELECT count(*) FROM pg_largeobject_metadata)"
        )
        counts = cursor.fetchone()
        cursor.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname LIKE 'elasticc%' ORDER BY 1"
        )
        roles = cursor.fetchall()
    return tables, counts, roles


ATTACKS = {
    "drop": "DROP TABLE elasticc_brokermessage",
    "insert": "INSERT INTO elasticc_classid (classid, name, level) VALUES (999, 'evil', 3)",
    "update": "UPDATE elasticc_brokerclassification SET probability = 0",
    "delete": "DELETE FROM elasticc_brokermessage",
    "create_table": "CREATE TABLE evil (a int)",
    "create_table_after_temp": ["CREATE TEMP TABLE t (a int)", "CREATE TABLE public.evil (a int)"],
    "insert_after_temp": ["CREATE TEMP TABLE t (a int)", "INSERT INTO elasticc_classid VALUES (999, 'evil', NULL, 3)"],
    "copy_to_program": "COPY (SELECT 1) TO PROGRAM 'touch /tmp/desc_sql_pwned'",
    "pg_read_file": "SELECT pg_read_file('/etc/passwd')",
    "lo_import": "SELECT lo_import('/etc/passwd')",
    "set_role": "SET ROLE postgres",
    "reset_role": "RESET ROLE",
    "set_session_authorization": "SET SESSION AUTHORIZATION postgres",
    "set_statement_timeout": "SET statement_timeout = 0",
    "set_local_in_list": ["SELECT 1", "SET LOCAL statement_timeout = 0"],
    "commit_escape": "SELECT 1; COMMIT; DROP TABLE elasticc_brokermessage",
    "commit_escape_in_list": ["SELECT 1", "COMMIT", "INSERT INTO elasticc_classid VALUES (999, 'evil', NULL, 3)"],
    "end_escape": "END; CREATE TABLE evil (a int)",
    "commented_commit": "/* x */ COMMIT",
    "do_block_commit": "DO $$ BEGIN COMMIT; END $$",
    "do_block_set_role": "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$",
    "do_block_session_authorization": "DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION postgres'; END $$",
    "set_config_role": "SELECT set_config('role', 'postgres', false)",
    "set_config_read_write_then_write": [
        "SELECT set_config('transaction_read_only', 'off', false)",
        "INSERT INTO elasticc_classid VALUES (999, 'evil', NULL, 3)",
    ],
    "auth_user": "SELECT username, password FROM auth_user",
    "django_session": "SELECT * FROM django_session",
    "authtoken_token": "SELECT * FROM authtoken_token",
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_attack_fails_and_changes_nothing(client_for, admin_user, sample, attack):
    before = _fingerprint()
    status, data = sql(client_for(admin_user), ATTACKS[attack])
    assert status == 200, data
    assert data["status"] == "error"
    assert data["error"]
    assert _fingerprint() == before


def test_reading_django_tables_fails_for_broker_role_too(client_for, broker_user):
    for table in ("auth_user", "django_session", "authtoken_token", "auth_group"):
        status, data = sql(client_for(broker_user), f"SELECT * FROM {table}")
        assert status == 200
        assert f"permission denied for table {table}" in data["error"]


def test_runs_as_role_matching_the_user(client_for, admin_user, broker_user, plain_user, settings):
    for user, role in (
        (admin_user, settings.SQL_ADMIN_ROLE),
        (broker_user, f"{settings.SQL_BROKER_ROLE}_u{broker_user.pk}"),
        (plain_user, f"{settings.SQL_BROKER_ROLE}_u{plain_user.pk}"),
    ):
        status, data = sql(
            client_for(user),
            "SELECT current_user AS u, session_user AS s, current_setting('transaction_read_only') AS ro",
        )
        assert status == 200
        assert data["rows"] == [{"u": role, "s": role, "ro": "on"}]


@pytest.mark.parametrize(
    "table",
    ["elasticc_diaobject", "elasticc_diasource", "elasticc_diatruth", "elasticc_diaobjecttruth", "elasticc_diaalert"],
)
def test_non_admin_cannot_read_simulation_or_truth(client_for, broker_user, plain_user, sample, table):
    for user in (broker_user, plain_user):
        status, data = sql(client_for(user), f"SELECT * FROM {table} LIMIT 1")
        assert status == 200
        assert f"permission denied for table {table}" in data["error"]


@pytest.mark.parametrize(
    "table",
    [
        "elasticc_brokermessage",
        "elasticc_brokerclassification",
        "elasticc_brokerclassifier",
        "elasticc_classid",
        "elasticc_gentypeofclassid",
        "elasticc_classidofgentype",
    ],
)
def test_non_admin_reads_broker_tables_and_taxonomy(client_for, plain_user, sample, table):
    status, data = sql(client_for(plain_user), f"SELECT count(*) AS n FROM {table}")
    assert status == 200, data
    assert data["rows"][0]["n"] > 0


def test_admin_reads_truth(client_for, admin_user, sample):
    status, data = sql(client_for(admin_user), "SELECT diaobjectid, gentype FROM elasticc_diaobjecttruth ORDER BY 1")
    assert status == 200
    assert [row["gentype"] for row in data["rows"]] == [10, 10, 42]


def test_anonymous_gets_403():
    response = APIClient().post("/db/runsqlquery/", {"query": "SELECT 1"}, format="json")
    assert response.status_code == 403
    assert "error" in response.json()


def test_session_request_without_csrf_header_gets_403(plain_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(plain_user)
    response = client.post("/db/runsqlquery/", {"query": "SELECT 1 AS one"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    client.get("/accounts/login/")
    response = client.post(
        "/db/runsqlquery/",
        {"query": "SELECT 1 AS one"},
        format="json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 200
    assert json.loads(body(response))["rows"] == [{"one": 1}]


def test_statement_timeout_names_the_limit(client_for, plain_user, settings):
    settings.SQL_STATEMENT_TIMEOUT_MS = 500
    started = time.monotonic()
    status, data = sql(client_for(plain_user), "SELECT pg_sleep(5)")
    assert time.monotonic() - started < 4
    assert status == 200
    assert data["error"] == (
        "query exceeded the time limit of 500 ms for the whole request (setting SQL_STATEMENT_TIMEOUT_MS); "
        "submit it as a long query"
    )


def test_set_config_cannot_lift_the_timeout(client_for, plain_user, settings):
    settings.SQL_STATEMENT_TIMEOUT_MS = 800
    started = time.monotonic()
    status, data = sql(
        client_for(plain_user),
        [
            "SELECT set_config('statement_timeout', '0', false)",
            "SELECT current_setting('statement_timeout') AS t, pg_sleep(5)",
        ],
    )
    assert time.monotonic() - started < 4
    assert status == 200
    assert "time limit of 800 ms" in data["error"]


def test_row_cap_names_the_limit(client_for, plain_user, settings):
    settings.SQL_MAX_ROWS = 10
    client = client_for(plain_user)
    status, data = sql(client, "SELECT generate_series(1, 10) AS i")
    assert status == 200
    assert len(data["rows"]) == 10
    status, data = sql(client, "SELECT generate_series(1, 11) AS i")
    assert status == 200
    assert data["error"].startswith("query returned more than the row limit of 10 rows (setting SQL_MAX_ROWS)")


def test_row_cap_hit_while_streaming_ends_json_and_csv_with_error(client_for, plain_user, settings):
    settings.SQL_MAX_ROWS = 12000
    client = client_for(plain_user)
    status, data = sql(client, "SELECT generate_series(1, 12001) AS i")
    assert status == 200  # rows were already on their way
    assert data["status"] == "error"
    assert "row limit of 12000 rows" in data["error"]
    response = client.post(
        "/db/runsqlquery/", {"query": "SELECT generate_series(1, 12001) AS i", "format": "csv"}, format="json"
    )
    lines = body(response).decode().splitlines()
    assert lines[0] == "i"
    assert lines[-1].startswith("#ERROR: query returned more than the row limit of 12000 rows")


def test_sql_error_is_reported(client_for, plain_user):
    status, data = sql(client_for(plain_user), "SELECT nosuchcolumn FROM elasticc_classid")
    assert status == 200
    assert data["status"] == "error"
    assert 'column "nosuchcolumn" does not exist' in data["error"]


def test_a_literal_syntax_error_is_a_200_error(client_for, plain_user):
    response = client_for(plain_user).post("/db/runsqlquery/", {"query": "SELEC 1"}, format="json")
    assert response.status_code == 200  # as the original: its clients raise on any other status
    data = json.loads(body(response))
    assert data["status"] == "error"
    assert 'syntax error at or near "SELEC"' in data["error"]


def test_missing_parameter_is_reported(client_for, plain_user):
    status, data = sql(client_for(plain_user), "SELECT %(a)s AS a", {"b": 1})
    assert status == 200
    assert data["error"] == "subdict has no value for parameter 'a'"


def test_queries_are_logged_with_user_and_duration(client_for, plain_user, caplog):
    with caplog.at_level(logging.INFO, logger="db.sql"):
        sql(client_for(plain_user), "SELECT 42 AS answer")
    messages = [record.getMessage() for record in caplog.records if record.name == "db.sql"]
    assert any("user=desc_user" in m and "SELECT 42 AS answer" in m for m in messages)
    assert any("sql done user=desc_user" in m and "duration=" in m and "rows=1" in m for m in messages)


def test_abandoned_response_closes_its_connection(client_for, plain_user, settings):
    response = client_for(plain_user).post(
        "/db/runsqlquery/", {"query": "SELECT generate_series(1, 50000) AS i"}, format="json"
    )
    assert response.streaming
    request_finished.disconnect(close_old_connections)  # as Django's test client does around requests
    try:
        response.close()  # the client went away before reading anything
    finally:
        request_finished.connect(close_old_connections)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'desc_sql:desc_user' AND usename = %s",
            [f"{settings.SQL_BROKER_ROLE}_u{plain_user.pk}"],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM db_sqlslot WHERE user_id = %s", [plain_user.pk])
        assert cursor.fetchone()[0] == 0


def _stream_peak(client, rows: int) -> tuple[int, int]:
    response = client.post(
        "/db/runsqlquery/",
        {"query": f"SELECT i, i * 0.5 AS x, 'row' AS s FROM generate_series(1, {rows}) AS i"},
        format="json",
    )
    assert response.streaming
    tracemalloc.start()
    total = 0
    tail = b""
    for chunk in response.streaming_content:
        total += len(chunk)
        tail = chunk
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tail.endswith(b'"status": "ok"}')
    return total, peak


def test_streaming_keeps_memory_flat(client_for, plain_user):
    """Four times the rows, the same peak of Python allocations (a few batches)."""
    client = client_for(plain_user)
    small_total, small_peak = _stream_peak(client, 25_000)
    total, peak = _stream_peak(client, 100_000)
    assert total > 3.5 * small_total
    assert peak < 1.3 * small_peak + 500_000


def test_openapi_schema_lists_sql_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for url in (
        "/db/runsqlquery/",
        "/db/submitsqlquery/",
        "/db/checksqlquery/{queryid}/",
        "/db/getsqlqueryresults/{queryid}/",
    ):
        assert url in paths


def test_a_body_that_is_not_an_object_is_an_error_not_a_500(client_for, plain_user):
    """Found by the schema fuzzer: a JSON `null` body was a 500."""
    for endpoint in ("/db/runsqlquery/", "/db/submitsqlquery/"):
        response = client_for(plain_user).post(endpoint, "null", content_type="application/json")
        assert response.status_code == 200
        assert json.loads(body(response)) == {"status": "error", "error": "the body must be a JSON object with 'query'"}
