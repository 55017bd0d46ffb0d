"""The broker-message storage service shared by the REST PUT and brokerpoll."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from elasticc.avro import codec as avro_codec
from elasticc.brokers.parsing import (
    MAX_NAME_CHARS,
    MAX_PARAMS_CHARS,
    BrokerMessageError,
    MessageOrigin,
    message_key_of,
    parse_avro_record,
    parse_broker_message,
    parse_broker_messages,
)
from tests.builders import T0
from tests.builders import broker_message_v0_9_1 as v0_9_1

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


def test_autodetect_mixed_versions_in_one_list():
    messages = parse_broker_messages(payloads=[v0_9(1), v0_9_1(2)])
    assert [len(m.classifications) for m in messages] == [4, 2]
    assert messages[1].classifications[0].classifier.classifiername == "NugentClassifier"


def test_same_content_in_both_versions_has_one_identity():
    new = v0_9_1(5)
    old = {k: v for k, v in new.items() if k not in ("classifierName", "classifierParams")}
    old["classifications"] = [
        {"classifierName": "NugentClassifier", "classifierParams": "100%", **c} for c in new["classifications"]
    ]
    assert message_key_of(old) == message_key_of(new)
    assert message_key_of(new) != message_key_of(v0_9_1(5, probs=((111, 0.7), (112, 0.3))))


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
        (lambda p: p["classifications"][1].update(classId=9.5), "classifications[1].classId", "must be an integer"),
        (lambda p: p["classifications"][0].update(probability=1.5), "classifications[0].probability", "0..1"),
        (lambda p: p["classifications"][0].update(probability=-0.1), "classifications[0].probability", "0..1"),
        (
            lambda p: p["classifications"][0].update(probability=float("nan")),
            "classifications[0].probability",
            "0..1",
        ),
        (lambda p: p["classifications"][0].pop("probability"), "classifications[0].probability", "is required"),
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
        (lambda r: r["classifications"][1].update(probability=-0.5), "classifications[1].probability"),
        (lambda r: r["classifications"][0].update(probability=float("nan")), "classifications[0].probability"),
        (lambda r: r["classifications"][0].update(probability=1.0000001), "classifications[0].probability"),
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


def test_a_repeated_classid_keeps_the_first_and_is_never_a_reason_to_drop():
    """A classId is never a reason to drop a message (README, "Taxonomies"); one given twice
    for one classifier is stored once, as first given, and the repeat named."""
    twice = v0_9_1(4, probs=((111, 0.5), (112, 0.25), (111, 0.125)))  # exact in Avro's float too
    message = parse_broker_message(twice)
    assert (message.classids, message.probabilities) == ((111, 112), (0.5, 0.25))
    assert message.repeated == message.classifiers[:1]
    # The message as stored: a replay of either form is the same message.
    assert message.messagekey == message_key_of(v0_9_1(4, probs=((111, 0.5), (112, 0.25))))
    assert parse_broker_message(v0_9_1(4)).repeated == ()
    # v0_9: per classifier (B may give the classId A gave).
    old = v0_9(4)
    old["classifications"] += [
        {"classifierName": "A", "classifierParams": "p1", "classId": 113, "probability": 0.125},
        {"classifierName": "B", "classifierParams": "", "classId": 111, "probability": 0.125},
    ]
    message = parse_broker_message(old)
    assert message.classids == (111, 113, 121, 2, 111)
    assert [k.classifiername for k in message.repeated] == ["A"]
    # The Avro fast path hands a repeat to the full parser: the same result.
    for payload, version in ((twice, "v0_9_1"), (old | {"elasticcPublishTimestamp": T0}, "v0_9")):
        record = avro_codec.decode(
            avro_codec.encode(payload, "brokerClassification", version), "brokerClassification", version
        )
        origin = MessageOrigin("t", 0, 9, None)
        fast = parse_avro_record(record, schema_version=version, origin=origin)
        assert fast == parse_broker_message(payload, schema_version=version, origin=origin)
        assert len(fast.repeated) == 1


@pytest.mark.parametrize(
    ("field", "limit"),
    [("brokerName", MAX_NAME_CHARS), ("brokerVersion", MAX_NAME_CHARS), ("classifierName", MAX_NAME_CHARS),
     ("classifierParams", MAX_PARAMS_CHARS)],
)  # fmt: skip
def test_names_are_bounded_in_both_parsers(field, limit):
    # Over ~2,700 bytes a classifier's texts no longer fit its unique index:
    # such a message must be refused here, not by the database.
    at_limit = v0_9_1(4) | {field: "é" * limit}
    assert parse_broker_message(at_limit).classifiers[0]._asdict()[field.lower()] == "é" * limit
    too_long = v0_9_1(4) | {field: "x" * (limit + 1)}
    with pytest.raises(BrokerMessageError, match=f"at most {limit}") as info:
        parse_broker_message(too_long)
    assert info.value.field == field
    record = avro_codec.decode(
        avro_codec.encode(too_long, "brokerClassification", "v0_9_1"), "brokerClassification", "v0_9_1"
    )
    with pytest.raises(BrokerMessageError, match=f"at most {limit}"):
        parse_avro_record(record, schema_version="v0_9_1", origin=MessageOrigin("t", 0, 9, None))


def test_v0_9_classifier_texts_are_bounded_too():
    payload = v0_9(4)
    payload["classifications"][2]["classifierParams"] = "p" * (MAX_PARAMS_CHARS + 1)
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_message(payload)
    assert info.value.field == "classifications[2].classifierParams"


def test_a_huge_number_or_a_lone_surrogate_is_a_clean_error():
    with pytest.raises(BrokerMessageError, match=r"outside 0\.\.1") as info:
        parse_broker_message(v0_9_1(4, probs=((111, 10**400),)))
    assert info.value.field == "classifications[0].probability"
    with pytest.raises(BrokerMessageError, match="out of range") as info:
        parse_broker_message(v0_9_1(4) | {"elasticcPublishTimestamp": 10**400})
    assert info.value.field == "elasticcPublishTimestamp"
    with pytest.raises(BrokerMessageError, match="lone surrogate") as info:
        parse_broker_message(v0_9_1(4) | {"classifierName": "bad\ud800name"})
    assert info.value.field == "classifierName"
    # A surrogate in an unknown key still gives an error that encodes.
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_message(v0_9_1(4) | {"x\udcff": 1})
    str(info.value).encode("utf-8")
    assert info.value.field == "x\\udcff"
