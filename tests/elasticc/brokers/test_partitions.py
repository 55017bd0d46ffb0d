"""A new classifier's partition never makes ingest wait behind a user's read
(migration 0011, elasticc.brokers.partitions): with a reader holding ACCESS
SHARE on elasticc_brokerclassification in another connection, a PUT that
registers a classifier completes at once with its rows in DEFAULT, and they
move into the classifier's own partition once the reader is gone."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from elasticc.brokers.partitions import attach_pending_partitions
from elasticc.models import BrokerClassification, BrokerClassifier
from elasticc.postgres.connections import connect
from elasticc.read.counts import row_count
from tests.builders import broker_message_v0_9_1

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

URL = "/elasticc/brokermessage/"


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def _partitions_scanned(classifierid: int) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (COSTS OFF) SELECT * FROM elasticc_brokerclassification WHERE classifierid = %s", [classifierid]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {word for word in plan.replace("(", " ").split() if word.startswith("elasticc_brokerclassification_")}


def test_a_new_classifier_does_not_wait_behind_a_reader(client_for, broker_user):
    client = client_for(broker_user)
    assert client.put(URL, broker_message_v0_9_1(1), format="json").status_code == 201
    # Ended by the server after 6 s, so that code that does wait fails rather than hangs.
    reader = connect(options="-c idle_in_transaction_session_timeout=6000")
    try:
        # A user's read in one open transaction: ACCESS SHARE on the table and all its partitions.
        reader.execute("SELECT count(*) FROM elasticc_brokerclassification").fetchone()
        started = time.monotonic()
        response = client.put(URL, broker_message_v0_9_1(2, classifier="Brand new"), format="json")
        took = time.monotonic() - started
        assert response.status_code == 201, response.content
        assert took < 2.0, f"the PUT waited {took:.1f} s behind the reader"
        (message,) = [m for m in client.get(URL).json()["results"] if m["alertId"] == 2]
        assert [c["classifierName"] for c in message["classifications"]] == ["Brand new"] * 2
        new = BrokerClassifier.objects.get(classifiername="Brand new").classifierid
        assert _count("elasticc_brokerclassification_default") == 2
        # Moving it needs the locks the reader is in the way of: left for later, without waiting.
        started = time.monotonic()
        assert attach_pending_partitions().waiting == (new,)
        assert time.monotonic() - started < 2.0
    finally:
        reader.close()

    assert attach_pending_partitions().attached == (new,)
    assert _count(f"elasticc_brokerclassification_c{new}") == 2
    assert _count("elasticc_brokerclassification_default") == 0
    assert _partitions_scanned(new) == {f"elasticc_brokerclassification_c{new}"}
    assert BrokerClassification.objects.filter(classifier_id=new).count() == 2
    assert row_count("elasticc_brokerclassification") == 4
    assert attach_pending_partitions().attached == ()
    # Its later rows go straight to its partition.
    client.put(URL, broker_message_v0_9_1(3, classifier="Brand new"), format="json")
    assert _count(f"elasticc_brokerclassification_c{new}") == 4
