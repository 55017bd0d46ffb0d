"""Helpers shared by the SQL-endpoint tests: committed sample rows (the SQL
endpoint reads through its own connection, so tests are transactional) and
response decoding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from django.db import connection

TRUTH_GENTYPES = {101: 10, 102: 10, 103: 42}  # diaobjectid -> SNANA gentype (Ia, Ia, TDE)


def insert_small_sample() -> dict[str, int]:
    """3 objects with truth and sources, one classifier with 2 messages of 2 classifications each."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO elasticc_diaobject (diaobjectid, ra, decl, isddf) VALUES "
            "(101, 10.0, -5.0, false), (102, 11.0, -6.0, false), (103, 12.0, -7.0, true)"
        )
        cursor.execute(
            "INSERT INTO elasticc_diasource (diasourceid, diaobjectid, midpointtai, filtername, ra, decl, psflux, "
            "psfluxerr, snr) VALUES (1001, 101, 60000.5, 'r', 10.0, -5.0, 100, 10, 10), "
            "(1002, 102, 60001.5, 'g', 11.0, -6.0, 200, 10, 20), (1003, 103, 60002.5, 'i', 12.0, -7.0, 300, 10, 30)"
        )
        cursor.execute(
            "INSERT INTO elasticc_diaobjecttruth (diaobjectid, gentype) VALUES "
            + ", ".join(f"({obj}, {gentype})" for obj, gentype in TRUTH_GENTYPES.items())
        )
        cursor.execute(
            "INSERT INTO elasticc_diatruth (diasourceid, diaobjectid, mjd, detect, gentype) VALUES "
            "(1001, 101, 60000.5, true, 10), (1002, 102, 60001.5, true, 10), (1003, 103, 60002.5, true, 42)"
        )
        cursor.execute(
            "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
            "VALUES ('TestBroker', '1.0', 'RandomForest', 'v1') RETURNING classifierid"
        )
        classifierid = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid, topicname) VALUES "
            "('test:1', 1001, 1001, 'REST_push'), ('test:2', 1002, 1002, 'REST_push') RETURNING brokermessageid"
        )
        first, second = (row[0] for row in cursor.fetchall())
        cursor.execute(
            "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) VALUES "
            "(%s, %s, 111, 0.8), (%s, %s, 112, 0.2), (%s, %s, 111, 0.3), (%s, %s, 132, 0.7)",
            [first, classifierid, first, classifierid, second, classifierid, second, classifierid],
        )
    return {"classifierid": classifierid, "brokermessageid": first}


SAMPLE_TABLES = (
    "elasticc_brokerclassification",
    "elasticc_brokermessage",
    "elasticc_brokerclassifier",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_diasource",
    "elasticc_diaobject",
)


def delete_small_sample() -> None:
    """Undo `insert_small_sample` with DELETE (so the row-count triggers see it)."""
    with connection.cursor() as cursor:
        for table in SAMPLE_TABLES:
            cursor.execute(f"DELETE FROM {table}")


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def sql(client, query, subdict=None, **extra):
    """POST to /db/runsqlquery/; returns (http status, decoded JSON)."""
    data = {"query": query, **extra}
    if subdict is not None:
        data["subdict"] = subdict
    response = client.post("/db/runsqlquery/", data, format="json")
    return response.status_code, json.loads(body(response))


EXAMPLE_CSVS = (
    ("elasticc_diaobject", "ppdbdiaobject.csv"),
    ("elasticc_diasource", "ppdbdiasource.csv"),
    ("elasticc_diaobjecttruth", "diaobjecttruth.csv"),
)
ORACLE_MISS_EVERY = 4  # the "Oracle" classifier says Ia for every 4th source


def load_example_sample(expected_dir: Path) -> dict[str, int]:
    """The ELAsTiCC sample (objects, sources, object truth) plus two fake
    classifiers that classified every source: "Oracle" (the true class with
    p=0.9, except every 4th source, where it says Ia with p=0.7) and
    "SNeverywhere" (always Ib/c 0.6, Ia 0.4). Returns ids and counts."""
    loaded: dict[str, int] = {}
    with connection.cursor() as cursor:
        for table, filename in EXAMPLE_CSVS:
            path = expected_dir / filename
            with path.open(newline="") as fh:
                header = next(csv.reader(fh))
            columns = ", ".join(name.replace("_id", "id") for name in header)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(path.read_bytes())
            loaded[table] = cursor.cursor.rowcount
        cursor.execute(
            "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
            "VALUES ('FakeBroker', '1.0', 'Oracle', 'truth'), ('FakeBroker', '1.0', 'SNeverywhere', 'Ib/c') "
            "RETURNING classifierid"
        )
        oracle, sneverywhere = (row[0] for row in cursor.fetchall())
        cursor.execute(
            "INSERT INTO elasticc_brokermessage (messagekey, alertid, diasourceid, topicname) "
            "SELECT 'example:' || diasourceid, diasourceid, diasourceid, 'example' FROM elasticc_diasource"
        )
        cursor.execute(
            """
            INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability)
            SELECT m.brokermessageid, %(oracle)s, g.classid,
                   CASE WHEN m.diasourceid %% %(every)s = 0 THEN 0.3 ELSE 0.9 END
            FROM elasticc_brokermessage m
            JOIN elasticc_diasource s ON s.diasourceid = m.diasourceid
            JOIN elasticc_diaobjecttruth t ON t.diaobjectid = s.diaobjectid
            JOIN elasticc_gentypeofclassid g ON g.gentype = t.gentype
            UNION ALL
            SELECT brokermessageid, %(oracle)s, 111, CASE WHEN diasourceid %% %(every)s = 0 THEN 0.7 ELSE 0.1 END
            FROM elasticc_brokermessage
            UNION ALL
            SELECT brokermessageid, %(sn)s, 112, 0.6 FROM elasticc_brokermessage
            UNION ALL
            SELECT brokermessageid, %(sn)s, 111, 0.4 FROM elasticc_brokermessage
            """,
            {"oracle": oracle, "sn": sneverywhere, "every": ORACLE_MISS_EVERY},
        )
        loaded["elasticc_brokerclassification"] = cursor.rowcount
    return {**loaded, "oracle": oracle, "sneverywhere": sneverywhere}


def expected_confusion(expected_dir: Path) -> dict[tuple[str, int, int], int]:
    """(classifier name, true classid, predicted classid) -> count, computed
    from the CSV files alone (the oracle for the SQL workflow)."""
    exact_class = {}
    with (expected_dir / "diaobjecttruth.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            exact_class[row["diaobject_id"]] = GENTYPE_TO_CLASSID[int(row["gentype"])]
    counts: dict[tuple[str, int, int], int] = {}
    with (expected_dir / "ppdbdiasource.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            true = exact_class[row["diaobject_id"]]
            oracle = 111 if int(row["diasource_id"]) % ORACLE_MISS_EVERY == 0 else true
            for key in (("Oracle", true, oracle), ("SNeverywhere", true, 112)):
                counts[key] = counts.get(key, 0) + 1
    return counts


# The three models of the sample: SNIb templates, KN_K17, M-dwarf flares.
GENTYPE_TO_CLASSID = {20: 112, 50: 121, 82: 122}
