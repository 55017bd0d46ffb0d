"""Helpers shared by the SQL-endpoint tests: committed sample rows (the SQL
endpoint reads through its own connection, so tests are transactional) and
response decoding."""

from __future__ import annotations

import json

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
