"""elasticc.brokers.storage.store_broker_messages: the one write path of REST PUT and brokerpoll."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from elasticc.brokers.message_key import kafka_message_key
from elasticc.brokers.parsing import (
    MAX_NAME_CHARS,
    MAX_PARAMS_CHARS,
    BrokerMessageError,
    MessageOrigin,
    message_key_of,
    parse_broker_message,
    parse_broker_messages,
)
from elasticc.brokers.storage import store_broker_messages, store_isolating_refused
from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage
from elasticc.read.counts import row_count
from tests.builders import T0, stored_but_uncommitted
from tests.builders import broker_message_v0_9_1 as v0_9_1
from tests.elasticc.brokers.test_parsing import v0_9

pytestmark = pytest.mark.django_db


def stored(alertid: int) -> list[tuple[str, str, int, float]]:
    return sorted(
        BrokerClassification.objects.filter(brokermessage__alertid=alertid).values_list(
            "classifier__classifiername", "classifier__classifierparams", "classid", "probability"
        )
    )


def test_v0_9_1_stored_with_timestamps_and_counts():
    messages = parse_broker_messages(
        payloads=[v0_9_1(1), {**v0_9_1(2), "brokerPublishTimestamp": T0 + 900}], schema_version="v0_9_1"
    )
    result = store_broker_messages(messages=messages)
    assert (result.num_loaded, result.num_classifications) == (2, 4)
    assert [c.classifiername for c in result.new_classifiers] == ["NugentClassifier"]
    first = BrokerMessage.objects.get(brokermessageid=result.first_brokermessageid)
    assert first.alertid == 1
    assert first.diasourceid == 10
    assert first.topicname == "REST_push"
    assert first.streammessageid is None
    assert first.msghdrtimestamp is None
    assert first.elasticcpublishtimestamp == datetime.fromtimestamp((T0 + 1) / 1000, UTC)
    assert first.brokeringesttimestamp == datetime.fromtimestamp((T0 + 501) / 1000, UTC)
    assert first.descingesttimestamp is not None
    assert first.messagekey == message_key_of(v0_9_1(1))
    second = BrokerMessage.objects.get(alertid=2)
    assert second.msghdrtimestamp == datetime.fromtimestamp((T0 + 900) / 1000, UTC)
    assert stored(2) == [("NugentClassifier", "100%", 111, 0.75), ("NugentClassifier", "100%", 112, 0.25)]
    classifierid = BrokerClassifier.objects.get(classifiername="NugentClassifier").classifierid
    assert row_count("elasticc_brokermessage") == 2
    assert row_count(f"elasticc_brokerclassification.{classifierid}") == 4


def test_v0_9_several_classifiers_in_one_message():
    result = store_broker_messages(messages=parse_broker_messages(payloads=[v0_9(7)]))
    assert (result.num_loaded, result.num_classifications) == (1, 4)
    assert sorted((c.classifiername, c.classifierparams) for c in result.new_classifiers) == [
        ("A", "p1"),
        ("B", ""),
        ("C", "x"),
    ]
    assert stored(7) == [("A", "p1", 111, 0.5), ("A", "p1", 113, 0.5), ("B", "", 121, 1.0), ("C", "x", 2, 0.0)]
    message = BrokerMessage.objects.get(alertid=7)
    assert message.elasticcpublishtimestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert message.brokeringesttimestamp is None


def test_replay_is_idempotent_and_ignores_publish_timestamp():
    payloads = [v0_9_1(1), v0_9(2)]
    first = store_broker_messages(messages=parse_broker_messages(payloads=payloads))
    assert first.num_loaded == 2
    again = [{**p, "brokerPublishTimestamp": T0 + 99_999} for p in payloads]
    replay = store_broker_messages(messages=parse_broker_messages(payloads=again))
    assert (replay.num_loaded, replay.first_brokermessageid, replay.num_classifications) == (0, None, 0)
    assert replay.new_classifiers == ()
    assert BrokerMessage.objects.count() == 2
    assert BrokerClassification.objects.count() == 6
    # A duplicate inside one list is stored once too.
    dup = store_broker_messages(messages=parse_broker_messages(payloads=[v0_9_1(3), v0_9_1(3)]))
    assert (dup.num_loaded, dup.num_classifications) == (1, 2)


def test_kafka_origin_key_and_replay():
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    when_ms = int(when.timestamp() * 1000)
    payload = v0_9_1(1)
    message = parse_broker_message(payload, origin=MessageOrigin("topic-a", 2, 41, when_ms))
    assert message.messagekey == kafka_message_key(topic="topic-a", partition=2, offset=41) == "kafka:topic-a:2:41"
    assert store_broker_messages(messages=[message]).num_loaded == 1
    # The same content at another offset is a different Kafka message.
    other = parse_broker_message(payload, origin=MessageOrigin("topic-a", 2, 42, when_ms))
    assert store_broker_messages(messages=[message, other]).num_loaded == 1
    row = BrokerMessage.objects.get(streammessageid=41)
    assert (row.topicname, row.kafkapartition, row.msghdrtimestamp) == ("topic-a", 2, when)


def _partition_of(classifierid: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'elasticc_brokerclassification' "
            "AND pg_get_expr(c.relpartbound, c.oid) = %s",
            [f"FOR VALUES IN ({classifierid})"],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_new_classifier_gets_its_partition_and_rows_land_there():
    result = store_broker_messages(messages=parse_broker_messages(payloads=[v0_9_1(1, classifier="Brand new")]))
    (classifier,) = result.new_classifiers
    partition = _partition_of(classifier.classifierid)
    assert partition == f"elasticc_brokerclassification_c{classifier.classifierid}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")
        assert cursor.fetchone()[0] == 2
        cursor.execute("SELECT count(*) FROM elasticc_brokerclassification_default")
        assert cursor.fetchone()[0] == 0
    # Known classifiers are not registered again.
    assert (
        store_broker_messages(
            messages=parse_broker_messages(payloads=[v0_9_1(2, classifier="Brand new")])
        ).new_classifiers
        == ()
    )


def test_nothing_stored_from_a_bad_batch():
    bad = v0_9_1(3, classifier="Never registered", probs=((111, 0.5), (112, 1.5)))
    with pytest.raises(BrokerMessageError):
        store_broker_messages(messages=parse_broker_messages(payloads=[v0_9_1(1), v0_9(2), bad]))
    assert BrokerMessage.objects.count() == 0
    assert BrokerClassification.objects.count() == 0
    assert not BrokerClassifier.objects.filter(classifiername="Never registered").exists()
    assert row_count("elasticc_brokermessage") == 0


def test_the_longest_valid_texts_fit_the_classifier_index():
    # Four-byte UTF-8 at every limit: the worst case validation lets through.
    payload = v0_9_1(1) | {
        "brokerName": "\U0001f600" * MAX_NAME_CHARS,
        "brokerVersion": "\U0001f601" * MAX_NAME_CHARS,
        "classifierName": "\U0001f602" * MAX_NAME_CHARS,
        "classifierParams": "\U0001f603" * MAX_PARAMS_CHARS,
    }
    assert store_broker_messages(messages=parse_broker_messages(payloads=[payload])).num_loaded == 1


def _refuse_alerts(*alertids: int) -> None:
    """A rule the database enforces and validation does not know (rolled
    back with the test): stands for any content the database refuses."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE elasticc_brokermessage ADD CONSTRAINT test_poison CHECK (alertid <> ALL (%s))",
            [list(alertids)],
        )


def test_refused_messages_are_isolated_and_the_rest_stored():
    _refuse_alerts(13, 40)
    messages = [parse_broker_message(v0_9_1(i), origin=MessageOrigin("t", 0, i, None)) for i in range(1, 61)]
    result, refused = store_isolating_refused(messages=messages)
    assert sorted(r.message.alertid for r in refused) == [13, 40]
    assert all("test_poison" in r.reason and r.reason.startswith("CheckViolation") for r in refused)
    assert (result.num_loaded, result.num_classifications) == (58, 116)
    assert sorted(BrokerMessage.objects.values_list("alertid", flat=True)) == [
        i for i in range(1, 61) if i not in (13, 40)
    ]
    assert result.first_brokermessageid == min(BrokerMessage.objects.values_list("brokermessageid", flat=True))
    assert row_count("elasticc_brokermessage") == 58
    # A replay stores nothing and isolates the same ones.
    again, refused = store_isolating_refused(messages=messages)
    assert (again.num_loaded, len(refused)) == (0, 2)


def test_errors_of_the_database_itself_are_raised_not_blamed_on_messages():
    messages = parse_broker_messages(payloads=[v0_9_1(1), v0_9_1(2)])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '1ms'")
    with (
        stored_but_uncommitted(
            lambda: connection.cursor().execute("LOCK TABLE elasticc_brokermessage IN ACCESS EXCLUSIVE MODE")
        ),
        pytest.raises(psycopg.errors.LockNotAvailable),
    ):
        store_isolating_refused(messages=messages)
