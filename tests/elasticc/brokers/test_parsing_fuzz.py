"""Property-based fuzzing of the broker-message parser: whatever a broker
sends (REST JSON or a Kafka Avro record), validation either gives a message
storage can take or raises `BrokerMessageError` with an encodable text;
nothing else escapes, nothing hangs. Bounded (max_examples) so CI stays fast."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elasticc.avro import codec as avro_codec
from elasticc.brokers.parsing import (
    BrokerMessageError,
    BrokerMessageIn,
    MessageOrigin,
    parse_avro_record,
    parse_broker_message,
)
from tests.builders import broker_message_v0_9_1

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORIGIN = MessageOrigin("fuzz", 0, 1, 1_700_000_000_000)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None), max_size=300)
    | st.text(max_size=3000),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "alertId", "diaSourceId", "elasticcPublishTimestamp", "brokerIngestTimestamp", "brokerName",
    "brokerVersion", "classifierName", "classifierParams", "classifications", "brokerPublishTimestamp",
]  # fmt: skip


def _accepted_is_storable(message: BrokerMessageIn) -> None:
    for key in message.classifiers:
        for text in key:
            text.encode("utf-8")
            assert "\x00" not in text
            assert len(text) <= 256
    assert all(0.0 <= p <= 1.0 for p in message.probabilities)


def _check(payload, **kwargs) -> None:
    try:
        message = parse_broker_message(payload, **kwargs)
    except BrokerMessageError as exc:
        str(exc).encode("utf-8")
        json.dumps({"error": str(exc), "field": exc.field}, ensure_ascii=False).encode("utf-8")
    else:
        _accepted_is_storable(message)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([*FIELDS, "unknown"]), json_values, max_size=4))
def test_json_messages_are_accepted_or_cleanly_refused(changes):
    _check(broker_message_v0_9_1(1) | changes)


@FUZZ
@given(
    items=st.lists(
        st.dictionaries(st.sampled_from(["classId", "probability", "classifierName", "x"]), json_values, max_size=4)
        | json_values,
        max_size=5,
    )
)
def test_json_classifications_are_accepted_or_cleanly_refused(items):
    _check(broker_message_v0_9_1(1) | {"classifications": items})
    _check({k: v for k, v in broker_message_v0_9_1(1).items() if k not in ("classifierName", "classifierParams")}
           | {"classifications": items})  # fmt: skip


@FUZZ
@given(anything=json_values)
def test_any_json_value_is_accepted_or_cleanly_refused(anything):
    _check(anything)


# Records of the v0_9_1 schema: every type the schema allows, any value in it.
avro_records = st.fixed_dictionaries(
    {
        "alertId": st.integers(-(2**63), 2**63 - 1),
        "diaSourceId": st.integers(-(2**63), 2**63 - 1),
        # What fastavro can decode (years 1..9999); it refuses the rest, which
        # brokerpoll counts as a message that does not decode.
        "elasticcPublishTimestamp": st.integers(-62135596800000, 253402300799999),
        "brokerIngestTimestamp": st.none() | st.integers(-62135596800000, 253402300799999),
        "brokerName": st.text(max_size=400),
        "brokerVersion": st.text(max_size=20),
        "classifierName": st.text(max_size=200),
        "classifierParams": st.text(max_size=400),
        "classifications": st.lists(
            st.fixed_dictionaries({"classId": st.integers(-(2**31), 2**31 - 1), "probability": st.floats(width=32)}),
            max_size=6,
        ),
    }
)


@FUZZ
@given(record=avro_records)
def test_avro_records_are_accepted_or_cleanly_refused(record):
    decoded = avro_codec.decode(
        avro_codec.encode(record, "brokerClassification", "v0_9_1"), "brokerClassification", "v0_9_1"
    )
    try:
        message = parse_avro_record(decoded, schema_version="v0_9_1", origin=ORIGIN)
    except BrokerMessageError as exc:
        str(exc).encode("utf-8")
    else:
        _accepted_is_storable(message)
