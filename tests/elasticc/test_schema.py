"""The elasticc schema: migrations, partitioning, taxonomy, counters, roles."""

import re
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection

from elasticc.read.counts import row_count, row_counts

pytestmark = pytest.mark.django_db


def _fetch(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _explain(sql: str, params=None) -> str:
    return "\n".join(row[0] for row in _fetch("EXPLAIN " + sql, params))


def test_no_missing_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_migrations_apply_from_zero_and_back():
    # The test database itself was built by migrating from zero; this also
    # proves every elasticc migration reverses cleanly and re-applies.
    call_command("migrate", "elasticc", "zero", verbosity=0)
    assert not _fetch("SELECT 1 FROM pg_class WHERE relname = 'elasticc_diaobject'")
    call_command("migrate", "elasticc", verbosity=0)
    assert _fetch("SELECT count(*) FROM elasticc_classid WHERE taxonomy = 'elasticc'") == [(35,)]


@pytest.mark.parametrize(
    ("table", "strategy", "key"),
    [
        ("elasticc_diaforcedsource", "h", "diaobjectid"),
        ("elasticc_diatruth", "h", "diaobjectid"),
        ("elasticc_brokerclassification", "l", "classifierid"),
    ],
)
def test_partitioned_tables(table, strategy, key):
    rows = _fetch(
        "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
        "JOIN pg_class c ON c.oid = p.partrelid "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
        "WHERE c.relname = %s",
        [table],
    )
    assert rows == [(strategy, key)]


def test_table_and_column_names_follow_avro_names():
    columns = {
        row[0]
        for row in _fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'elasticc_diasource'")
    }
    assert {"diasourceid", "diaobjectid", "midpointtai", "filtername", "psflux", "psfluxerr", "snr"} <= columns
    object_columns = {
        row[0]
        for row in _fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'elasticc_diaobject'")
    }
    assert {"hostgal_mag_y", "hostgal2_zphot_p50", "isddf", "decl"} <= object_columns
    message_columns = {
        row[0]
        for row in _fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'elasticc_brokermessage'"
        )
    }
    assert {
        "brokermessageid",
        "streammessageid",
        "topicname",
        "alertid",
        "diasourceid",
        "msghdrtimestamp",
        "elasticcpublishtimestamp",
        "brokeringesttimestamp",
        "descingesttimestamp",
    } <= message_columns


def _new_classifier(name: str) -> int:
    return _fetch(
        "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
        "VALUES ('TestBroker', '1.0', %s, 'p') RETURNING classifierid",
        [name],
    )[0][0]


def test_no_index_is_covered_by_another():
    """Every plain b-tree index earns its write cost: none has key columns
    that lead another index on the same table (Django's automatic
    foreign-key indexes doubled two of elasticc_diaalert's and one of
    elasticc_diasource's, found by bench/scale.py's bytes per row)."""
    covered = _fetch(
        """
        SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
        FROM pg_index a
        JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
        JOIN pg_class t ON t.oid = a.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
        JOIN pg_class ai ON ai.oid = a.indexrelid
        JOIN pg_am am ON am.oid = ai.relam AND am.amname = 'btree'
        WHERE t.relname LIKE 'elasticc%%'
          AND NOT a.indisunique AND a.indpred IS NULL AND a.indexprs IS NULL
          AND b.indpred IS NULL AND b.indexprs IS NULL
          AND a.indnkeyatts <= b.indnkeyatts
          AND (a.indkey::int2[])[0:a.indnkeyatts - 1] = (b.indkey::int2[])[0:a.indnkeyatts - 1]
        """
    )
    assert covered == [], covered


def test_registering_a_classifier_creates_its_partition():
    classifierid = _new_classifier("brandnew")
    partition = f"elasticc_brokerclassification_c{classifierid}"
    assert _fetch("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE relname = %s", [partition]) == [
        (f"FOR VALUES IN ({classifierid})",)
    ]
    message = _fetch(
        "INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid) VALUES ('k1', 1, 1) "
        "RETURNING brokermessageid"
    )[0][0]
    _fetch(
        "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
        "VALUES (%s, %s, 111, 0.5) RETURNING tableoid::regclass::text",
        [message, classifierid],
    )
    assert _fetch(f"SELECT count(*) FROM {partition}") == [(1,)]
    assert _fetch("SELECT count(*) FROM elasticc_brokerclassification_default") == [(0,)]


def test_a_classification_without_registered_classifier_lands_in_default():
    message = _fetch(
        "INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid) VALUES ('k2', 1, 1) "
        "RETURNING brokermessageid"
    )[0][0]
    _fetch(
        "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
        "VALUES (%s, 999999, 111, 0.5) RETURNING classificationid",
        [message],
    )
    assert _fetch("SELECT count(*) FROM elasticc_brokerclassification_default") == [(1,)]


def test_per_classifier_query_prunes_to_one_partition():
    first, second = _new_classifier("prune-a"), _new_classifier("prune-b")
    plan = _explain(f"SELECT classid, probability FROM elasticc_brokerclassification WHERE classifierid = {first}")
    assert f"elasticc_brokerclassification_c{first}" in plan
    assert f"elasticc_brokerclassification_c{second}" not in plan
    assert "elasticc_brokerclassification_default" not in plan


def test_a_classifier_partition_has_one_index_and_the_reads_use_it():
    # Each index costs every ingested classification a b-tree insertion
    # (migration 0016); the natural key is the only one, and serves reads.
    classifierid = _new_classifier("one-index")
    partition = f"elasticc_brokerclassification_c{classifierid}"
    definitions = _fetch("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass", [partition])
    assert definitions == [
        (f"CREATE UNIQUE INDEX {partition}_pkey ON public.{partition} "
         "USING btree (brokermessageid, classifierid, classid)",)
    ]  # fmt: skip
    _fetch("SET enable_seqscan = off")
    for where in ("brokermessageid > 10 AND brokermessageid <= 20", "brokermessageid = ANY('{1,2}'::bigint[])"):
        plan = _explain(f"SELECT brokermessageid, classid FROM elasticc_brokerclassification WHERE {where}")
        assert re.search(rf"(Index Only Scan using|Bitmap Index Scan on) {partition}_pkey", plan), plan


def test_message_keys_have_only_their_unique_index():
    # Keys are looked up by equality only; a LIKE index was one more b-tree insertion per message.
    assert _fetch(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'elasticc_brokermessage'::regclass "
        "AND pg_get_indexdef(indexrelid) LIKE '%%(messagekey%%'"
    ) == [("CREATE UNIQUE INDEX elasticc_brokermessage_messagekey_key ON public.elasticc_brokermessage "
           "USING btree (messagekey)",)]  # fmt: skip


def test_a_classid_twice_in_a_message_is_refused():
    classifierid = _new_classifier("twice")
    _fetch(
        "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
        "VALUES (1, %s, 111, 0.5)",
        [classifierid],
    )
    with pytest.raises(IntegrityError, match="duplicate key"):
        _fetch(
            "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
            "VALUES (1, %s, 111, 0.25)",
            [classifierid],
        )


@pytest.mark.parametrize("table", ["elasticc_diaforcedsource", "elasticc_diatruth"])
def test_per_object_query_prunes_to_one_partition(table):
    plan = _explain(f"SELECT * FROM {table} WHERE diaobjectid = 1552185")
    scanned = set(re.findall(rf"\b{table}_p\d\d\b(?!_)", plan))
    assert len(scanned) == 1, plan


def test_idempotent_message_identity():
    _fetch("INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid) VALUES ('kafka:t:0:5', 1, 1)")
    inserted = _fetch(
        "INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid) VALUES ('kafka:t:0:5', 1, 1) "
        "ON CONFLICT (messagekey) DO NOTHING RETURNING brokermessageid"
    )
    assert inserted == []


def test_taxonomy_maps():
    assert _fetch("SELECT count(*) FROM elasticc_classid WHERE taxonomy = 'elasticc'") == [(35,)]
    assert _fetch("SELECT count(*) FROM elasticc_gentypeofclassid WHERE taxonomy = 'elasticc'") == [(47,)]
    assert _fetch("SELECT count(*) FROM elasticc_classidofgentype WHERE taxonomy = 'elasticc'") == [(93,)]
    assert _fetch("SELECT name, parent, level FROM elasticc_classid WHERE classid = 21") == [("Periodic", 2, 2)]
    assert _fetch("SELECT count(*) FROM elasticc_classidofgentype WHERE classid = 20") == [(0,)]
    assert _fetch("SELECT count(*) FROM elasticc_classidofgentype WHERE classid = 21") == [(4,)]
    # A perfect broker gives a SNIb-Templates object (gentype 20) class Ib/c.
    assert _fetch("SELECT classid FROM elasticc_gentypeofclassid WHERE gentype = 20 AND taxonomy = 'elasticc'") == [
        (112,)
    ]


def test_row_counts_follow_inserts_updates_and_deletes():
    _fetch(
        "INSERT INTO elasticc_diaobject (diaobjectid, ra, decl, isddf) SELECT g, 1, 2, false "
        "FROM generate_series(1, 5) g"
    )
    _fetch(
        "INSERT INTO elasticc_diasource (diasourceid, diaobjectid, midpointtai, filtername, ra, decl, "
        "psflux, psfluxerr, snr) SELECT g * 100000, g, 60000, 'r', 1, 2, 1, 1, 1 FROM generate_series(1, 5) g"
    )
    _fetch(
        "INSERT INTO elasticc_diaalert (alertid, diasourceid, diaobjectid) "
        "SELECT diasourceid, diasourceid, diaobjectid FROM elasticc_diasource"
    )
    _fetch(
        "INSERT INTO elasticc_diaforcedsource (diaforcedsourceid, diaobjectid, midpointtai, filtername, "
        "psflux, psfluxerr) SELECT g * 100000 + k, g, 60000 + k, 'g', 1, 1 "
        "FROM generate_series(1, 5) g, generate_series(0, 9) k"
    )
    _fetch("UPDATE elasticc_diaalert SET alertsenttimestamp = now() WHERE diaobjectid <= 2")
    _fetch("DELETE FROM elasticc_diaforcedsource WHERE diaobjectid = 5")
    counts = row_counts(
        [
            "elasticc_diaobject",
            "elasticc_diasource",
            "elasticc_diaalert",
            "elasticc_diaalert.sent",
            "elasticc_diaforcedsource",
        ]
    )
    assert counts == {
        "elasticc_diaobject": 5,
        "elasticc_diasource": 5,
        "elasticc_diaalert": 5,
        "elasticc_diaalert.sent": 2,
        "elasticc_diaforcedsource": 40,
    }
    _fetch("SELECT elasticc_compact_rowcounts()")
    assert row_count("elasticc_diaforcedsource") == 40
    assert _fetch("SELECT count(*) FROM elasticc_rowcountdelta WHERE key = 'elasticc_diaforcedsource'") == [(1,)]


def _role_connection(role: str) -> psycopg.Connection:
    params = settings.DATABASES["default"]
    return psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        dbname=connection.settings_dict["NAME"],
        user=role,
        password=getattr(settings, f"SQL_{'ADMIN' if role == settings.SQL_ADMIN_ROLE else 'BROKER'}_ROLE_PASSWORD"),
        autocommit=True,
    )


@pytest.fixture
def committed_tables(transactional_db):
    """Role connections are separate sessions: they only see committed rows."""


@pytest.mark.parametrize("table", ["auth_user", "elasticc_diatruth", "elasticc_diaobject", "django_session"])
def test_broker_role_cannot_read(committed_tables, table):
    with _role_connection(settings.SQL_BROKER_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"SELECT * FROM {table} LIMIT 1")


def test_broker_role_reads_broker_tables_and_taxonomy(committed_tables):
    with _role_connection(settings.SQL_BROKER_ROLE) as conn:
        assert conn.execute("SELECT count(*) FROM elasticc_classid WHERE taxonomy = 'elasticc'").fetchone() == (35,)
        for table in (
            "elasticc_brokermessage",
            "elasticc_brokerclassifier",
            "elasticc_brokerclassification",
            "elasticc_gentypeofclassid",
            "elasticc_classidofgentype",
        ):
            conn.execute(f"SELECT * FROM {table} LIMIT 1")


def test_admin_role_reads_truth_but_not_django_tables(committed_tables):
    with _role_connection(settings.SQL_ADMIN_ROLE) as conn:
        conn.execute("SELECT * FROM elasticc_diatruth LIMIT 1")
        conn.execute("SELECT * FROM elasticc_diaobjecttruth LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM auth_user LIMIT 1")


@pytest.mark.parametrize("role_setting", ["SQL_ADMIN_ROLE", "SQL_BROKER_ROLE"])
def test_roles_cannot_insert(committed_tables, role_setting):
    with _role_connection(getattr(settings, role_setting)) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO elasticc_classid (classid, name, level) VALUES (999, 'x', 3)")
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO elasticc_classid (classid, name, level) VALUES (999, 'x', 3)")


def test_new_classifier_partition_readable_by_roles(committed_tables):
    classifierid = _new_classifier("granted")
    with _role_connection(settings.SQL_BROKER_ROLE) as conn:
        conn.execute(f"SELECT * FROM elasticc_brokerclassification_c{classifierid}")
