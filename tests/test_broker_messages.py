"""The broker-message storage service shared by the REST PUT and brokerpoll."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from django.db import connection

from elasticc import avro_codec
from elasticc.broker_messages import (
    BrokerMessageError,
    MessageOrigin,
    kafka_message_key,
    parse_avro_record,
    parse_broker_message,
    parse_broker_messages,
    rest_message_key,
    store_broker_messages,
)
from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage
from elasticc.selectors import row_count
from tests.factories import T0
from tests.factories import broker_message_v0_9_1 as v0_9_1

pytestmark = pytest.mark.django_db



def v0_9(alert: int) -> dict:
    return {
        "alertId": alert,
        "diaSourceId": alert * 10,
        "elasticcPublishTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "brokerIngestTimestamp": None,
        "brokerName": "OldBroker",
        "brokerVersion": "0.9",
        "classifications": [
            {"classifierName": "A", "classifierParams": "p1", "classId": 111, "probability": 0.5},
            {"classifierName": "A", "classifierParams": "p1", "classId": 113, "probability": 0.5},
            {"classifierName": "B", "classifierParams": "", "classId": 121, "probability": 1.0},
            {"classifierName": "C", "classifierParams": "x", "classId": 2, "probability": 0.0},
        ],
    }


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
    assert first.messagekey == rest_message_key(v0_9_1(1))
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


def test_autodetect_mixed_versions_in_one_list():
    messages = parse_broker_messages(payloads=[v0_9(1), v0_9_1(2)])
    assert [len(m.classifications) for m in messages] == [4, 2]
    assert messages[1].classifications[0].classifier.classifiername == "NugentClassifier"


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


def test_same_content_in_both_versions_has_one_identity():
    new = v0_9_1(5)
    old = {k: v for k, v in new.items() if k not in ("classifierName", "classifierParams")}
    old["classifications"] = [
        {"classifierName": "NugentClassifier", "classifierParams": "100%", **c} for c in new["classifications"]
    ]
    assert rest_message_key(old) == rest_message_key(new)
    assert rest_message_key(new) != rest_message_key(v0_9_1(5, probs=((111, 0.7), (112, 0.3))))


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


@pytest.mark.parametrize(
    ("mutate", "field", "text"),
    [
        (lambda p: p.pop("alertId"), "alertId", "is required"),
        (lambda p: p.update(alertId="12"), "alertId", "must be an integer"),
        (lambda p: p.update(diaSourceId=True), "diaSourceId", "must be an integer"),
        (lambda p: p.update(alertId=2**63), "alertId", "out of range"),
        (lambda p: p.update(elasticcPublishTimestamp=None), "elasticcPublishTimestamp", "is required"),
        (lambda p: p.update(brokerIngestTimestamp="yesterday"), "brokerIngestTimestamp", "milliseconds"),
        (lambda p: p.update(brokerName=5), "brokerName", "must be a string"),
        (lambda p: p.update(classifications={}), "classifications", "must be a list"),
        (lambda p: p["classifications"][1].update(classId=999), "classifications[1].classId", "not an ELAsTiCC"),
        (lambda p: p["classifications"][0].update(probability=1.5), "classifications[0].probability", "0..1"),
        (lambda p: p["classifications"][0].update(probability=-0.1), "classifications[0].probability", "0..1"),
        (
            lambda p: p["classifications"][0].update(probability=float("nan")),
            "classifications[0].probability",
            "0..1",
        ),
        (lambda p: p["classifications"][0].pop("probability"), "classifications[0].probability", "is required"),
        (lambda p: p["classifications"][1].update(classId=111), "classifications[1].classId", "twice"),
        (lambda p: p.update(brokerPublishTimeStamp=1), "brokerPublishTimeStamp", "not a field"),
    ],
)
def test_validation_names_index_and_field(mutate, field, text):
    bad = copy.deepcopy(v0_9_1(3))
    mutate(bad)
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_messages(payloads=[v0_9_1(1), v0_9(2), bad])
    assert info.value.index == 2
    assert info.value.field == field
    assert text in str(info.value)
    assert f"message 2: field {field}" in str(info.value)


def test_version_forms_are_enforced():
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_messages(payloads=[v0_9_1(1)], schema_version="v0_9")
    assert info.value.field == "classifierName"
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_messages(payloads=[v0_9(1)], schema_version="v0_9_1")
    assert info.value.field == "classifierName"
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_messages(payloads=["not an object"])
    assert (info.value.index, info.value.field) == (0, "(message)")
    with pytest.raises(ValueError, match="unknown schema version"):
        parse_broker_messages(payloads=[v0_9(1)], schema_version="v2")


def test_nothing_stored_from_a_bad_batch():
    bad = v0_9_1(3, classifier="Never registered", probs=((111, 0.5), (99999, 0.5)))
    with pytest.raises(BrokerMessageError):
        store_broker_messages(messages=parse_broker_messages(payloads=[v0_9_1(1), v0_9(2), bad]))
    assert BrokerMessage.objects.count() == 0
    assert BrokerClassification.objects.count() == 0
    assert not BrokerClassifier.objects.filter(classifiername="Never registered").exists()
    assert row_count("elasticc_brokermessage") == 0


@pytest.mark.parametrize("version", ["v0_9", "v0_9_1"])
def test_avro_fast_path_equals_full_validation(version):
    payload = v0_9(4) if version == "v0_9" else v0_9_1(4)
    if version == "v0_9":
        payload["elasticcPublishTimestamp"] = T0
    record = avro_codec.decode(
        avro_codec.encode(payload, "brokerClassification", version), "brokerClassification", version
    )
    origin = MessageOrigin("t", 0, 9, T0 + 5)
    fast = parse_avro_record(record, schema_version=version, origin=origin)
    assert fast == parse_broker_message(payload, schema_version=version, origin=origin)
    assert fast.elasticcpublish_ms == T0 + (0 if version == "v0_9" else 4)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["classifications"][1].update(classId=999), "classifications[1].classId"),
        (lambda r: r["classifications"][0].update(probability=float("nan")), "classifications[0].probability"),
        (lambda r: r["classifications"][0].update(probability=1.0000001), "classifications[0].probability"),
        (lambda r: r["classifications"][1].update(classId=111), "classifications[1].classId"),
        (lambda r: r.update(classifierName="bad\x00name"), "classifierName"),
    ],
)
def test_avro_fast_path_rejects_what_the_schema_allows(mutate, field):
    record = avro_codec.decode(
        avro_codec.encode(v0_9_1(4), "brokerClassification", "v0_9_1"), "brokerClassification", "v0_9_1"
    )
    mutate(record)
    with pytest.raises(BrokerMessageError) as info:
        parse_avro_record(record, schema_version="v0_9_1", origin=MessageOrigin("t", 0, 9, None))
    assert info.value.field == field
