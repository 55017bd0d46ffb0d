"""Broker messages in: validation of REST JSON and Kafka Avro records into `BrokerMessageIn`.

Every broker message, whether PUT over REST or consumed from Kafka by
`brokerpoll`, goes through `parse_broker_message(s)` (or, for Avro records,
`parse_avro_record`) and then `elasticc.brokers.storage.store_broker_messages`,
so both paths apply the same rules and give the same rows.

Validation happens entirely before anything is written: a bad payload raises
`BrokerMessageError` naming its list index and field, and nothing of that
call is stored. Avro-decoded Kafka records have their types guaranteed by the
schema, so they take a fast path that checks only the rules the schema
cannot (probability range, repeated classIds, NUL); anything else re-runs
the full validator (for a precise error, or to drop repeats).

Names are bounded (`MAX_NAME_CHARS`, `MAX_PARAMS_CHARS`): a classifier's
four texts form one entry of a unique B-tree index, which PostgreSQL refuses
above 2,704 bytes; unbounded, one such message would be valid here and
refused by the database. The bounds keep even four-byte UTF-8 text under it.
Strings must also be encodable as UTF-8 (JSON can carry lone surrogates).

A classId is never a reason to refuse a message (README, "Taxonomies"): brokers answer in
the taxonomy they were told to use, and an id outside the classifier's
taxonomy is still its answer. It is stored as sent; the metrics refresh
counts it per classifier and leaves it out (`elasticc.metrics.refresh`).
Nor is a classId that a message gives twice for one classifier: the message
is kept with the first of them (the stored classifications are unique per
message, classifier and classId), and the left-out repeats are named in
`BrokerMessageIn.repeated`, which storage logs per classifier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from elasticc.avro.versions import check_schema_version
from elasticc.brokers.message_key import kafka_message_key, rest_message_key

REST_TOPIC = "REST_push"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# brokerName, brokerVersion and classifierName at most MAX_NAME_CHARS each,
# classifierParams at most MAX_PARAMS_CHARS: 4 bytes a character in the worst
# case, 4 * (3 * 128 + 256) = 2,560 bytes, under the index entry limit (2,704).
MAX_NAME_CHARS = 128
MAX_PARAMS_CHARS = 256
_LIMITS = {"brokerName": MAX_NAME_CHARS, "brokerVersion": MAX_NAME_CHARS, "classifierName": MAX_NAME_CHARS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_MESSAGE_FIELDS_V0_9 = frozenset(
    {
        "alertId",
        "diaSourceId",
        "elasticcPublishTimestamp",
        "brokerIngestTimestamp",
        "brokerName",
        "brokerVersion",
        "classifications",
        "brokerPublishTimestamp",
    }
)
_MESSAGE_FIELDS_V0_9_1 = _MESSAGE_FIELDS_V0_9 | {"classifierName", "classifierParams"}
_CLASSIFICATION_FIELDS_V0_9 = frozenset({"classifierName", "classifierParams", "classId", "probability"})
_CLASSIFICATION_FIELDS_V0_9_1 = frozenset({"classId", "probability"})


class BrokerMessageError(ValueError):
    """A broker message breaks a rule; `.index` is its position in the list
    given to the parser and `.field` the offending field (dotted path)."""

    def __init__(self, *, index: int, field: str, problem: str) -> None:
        self.index = index
        # The field may be a key the client sent; a lone surrogate in it
        # would make the error response itself unencodable.
        self.field = _printable(field)
        self.problem = _printable(problem)
        super().__init__(f"message {index}: field {self.field}: {self.problem}")


def _printable(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ClassifierKey(NamedTuple):
    """The identity of a classifier (unique in elasticc_brokerclassifier)."""

    brokername: str
    brokerversion: str
    classifiername: str
    classifierparams: str


class Classifier(NamedTuple):
    classifierid: int
    brokername: str
    brokerversion: str
    classifiername: str
    classifierparams: str


class ClassificationIn(NamedTuple):
    classifier: ClassifierKey
    classid: int
    probability: float


class MessageOrigin(NamedTuple):
    """Where a Kafka message came from: its identity and header time (ms)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


class BrokerMessageIn(NamedTuple):
    """A validated broker message, ready for `store_broker_messages`.
    Timestamps are milliseconds since 1970 (UTC; a float when the broker
    sent fractional milliseconds), or None. Classifications
    are held column-wise (`classifiers[i]`, `classids[i]`, `probabilities[i]`),
    which is what bulk storage consumes; `classifications` zips them."""

    messagekey: str
    alertid: int
    diasourceid: int
    elasticcpublish_ms: int | float
    brokeringest_ms: int | float | None
    msghdr_ms: int | float | None
    topicname: str
    streammessageid: int | None
    kafkapartition: int | None
    classifiers: tuple[ClassifierKey, ...]
    classids: tuple[int, ...]
    probabilities: tuple[float, ...]
    # Decides the default taxonomy of a classifier it registers.
    schemaversion: str | None = None
    # One entry per classification left out because its classifier already
    # gave its classId earlier in the message (the first one is kept).
    repeated: tuple[ClassifierKey, ...] = ()

    @property
    def classifications(self) -> tuple[ClassificationIn, ...]:
        return tuple(map(ClassificationIn, self.classifiers, self.classids, self.probabilities))


def message_key_of(payload: Mapping[str, Any]) -> str:
    """The `messagekey` a REST message is stored under (see `elasticc.brokers.message_key`)."""
    return parse_broker_message(payload).messagekey


# --- parsing -------------------------------------------------------------------


def _int(value: Any, *, index: int, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BrokerMessageError(index=index, field=name, problem=f"must be an integer, got {value!r:.60}")
    if not lo <= value <= hi:
        raise BrokerMessageError(index=index, field=name, problem=f"{value!r:.40} is out of range")
    return value


def _str(value: Any, *, index: int, name: str) -> str:
    if not isinstance(value, str):
        raise BrokerMessageError(index=index, field=name, problem=f"must be a string, got {value!r:.60}")
    if "\x00" in value:
        raise BrokerMessageError(index=index, field=name, problem="must not contain NUL characters")
    limit = _LIMITS.get(name.rpartition(".")[2], MAX_PARAMS_CHARS)
    if len(value) > limit:
        raise BrokerMessageError(
            index=index, field=name, problem=f"is {len(value)} characters long, at most {limit} are allowed"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BrokerMessageError(
                index=index, field=name, problem="is not valid Unicode (a lone surrogate)"
            ) from None
    return value


_MS_MIN, _MS_MAX = -62135596800000, 253402300799999  # years 1..9999


def _timestamp_ms(value: Any, *, index: int, name: str, required: bool) -> int | float | None:
    """Milliseconds since 1970 from a number (JSON) or a datetime (Avro).

    Brokers send fractional milliseconds and the original accepted them, so a
    finite float is kept (to the microsecond the column holds); a whole float
    becomes an int, so that 1.0e12 and 1000000000000 give one message key."""
    if value is None:
        if required:
            raise BrokerMessageError(index=index, field=name, problem="is required")
        return None
    if isinstance(value, datetime):
        return ((value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH) // _MS
    # isfinite only of floats: it converts an int, which overflows past 1e308.
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise BrokerMessageError(
            index=index, field=name, problem=f"must be milliseconds since 1970 (a number), got {value!r:.60}"
        )
    if not _MS_MIN <= value <= _MS_MAX:
        raise BrokerMessageError(index=index, field=name, problem=f"{value!r:.40} is out of range")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _finite(value: int | float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


def _probability(value: Any, *, index: int, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BrokerMessageError(index=index, field=name, problem=f"must be a number, got {value!r:.60}")
    # Compared before float(): a 400-digit integer does not fit a float.
    if (isinstance(value, float) and math.isnan(value)) or not 0 <= value <= 1:
        raise BrokerMessageError(index=index, field=name, problem=f"{value!r:.40} is outside 0..1")
    return float(value)


def _detect_version(payload: Mapping[str, Any], schema_version: str | None) -> str:
    if schema_version is None:
        return "v0_9_1" if "classifierName" in payload else "v0_9"
    return check_schema_version(schema_version)


def parse_broker_message(
    payload: Any,
    *,
    index: int = 0,
    schema_version: str | None = None,
    origin: MessageOrigin | None = None,
) -> BrokerMessageIn:
    """Validate one message (JSON or Avro-decoded dict). With a Kafka
    `origin` the message is keyed by topic, partition and offset and its
    header time is the Kafka timestamp; without, it is a REST message keyed
    by its content digest and timed by its optional `brokerPublishTimestamp`."""
    if not isinstance(payload, Mapping):
        raise BrokerMessageError(index=index, field="(message)", problem="must be a JSON object")
    version = _detect_version(payload, schema_version)
    allowed = _MESSAGE_FIELDS_V0_9_1 if version == "v0_9_1" else _MESSAGE_FIELDS_V0_9
    for name in payload:
        if name not in allowed:
            raise BrokerMessageError(index=index, field=str(name), problem=f"is not a field of {version} messages")
    for name in ("alertId", "diaSourceId", "elasticcPublishTimestamp", "brokerName", "brokerVersion"):
        if name not in payload:
            raise BrokerMessageError(index=index, field=name, problem="is required")
    alertid = _int(payload["alertId"], index=index, name="alertId", lo=BIGINT_MIN, hi=BIGINT_MAX)
    diasourceid = _int(payload["diaSourceId"], index=index, name="diaSourceId", lo=BIGINT_MIN, hi=BIGINT_MAX)
    published = _timestamp_ms(
        payload["elasticcPublishTimestamp"], index=index, name="elasticcPublishTimestamp", required=True
    )
    ingested = _timestamp_ms(
        payload.get("brokerIngestTimestamp"), index=index, name="brokerIngestTimestamp", required=False
    )
    brokerpublished = _timestamp_ms(
        payload.get("brokerPublishTimestamp"), index=index, name="brokerPublishTimestamp", required=False
    )
    brokername = _str(payload["brokerName"], index=index, name="brokerName")
    brokerversion = _str(payload["brokerVersion"], index=index, name="brokerVersion")
    message_classifier = None
    if version == "v0_9_1":
        for name in ("classifierName", "classifierParams"):
            if name not in payload:
                raise BrokerMessageError(index=index, field=name, problem="is required in v0_9_1 messages")
        message_classifier = ClassifierKey(
            brokername,
            brokerversion,
            _str(payload["classifierName"], index=index, name="classifierName"),
            _str(payload["classifierParams"], index=index, name="classifierParams"),
        )
    items = payload.get("classifications")
    if not isinstance(items, list):
        raise BrokerMessageError(index=index, field="classifications", problem="must be a list")
    item_fields = _CLASSIFICATION_FIELDS_V0_9_1 if version == "v0_9_1" else _CLASSIFICATION_FIELDS_V0_9
    classifications = []
    seen: set[tuple[ClassifierKey, int]] = set()
    repeated: list[ClassifierKey] = []
    for i, item in enumerate(items):
        where = f"classifications[{i}]"
        if not isinstance(item, Mapping):
            raise BrokerMessageError(index=index, field=where, problem="must be an object")
        for name in item:
            if name not in item_fields:
                raise BrokerMessageError(
                    index=index, field=f"{where}.{name}", problem=f"is not a field of {version} classifications"
                )
        for name in item_fields:
            if name not in item:
                raise BrokerMessageError(index=index, field=f"{where}.{name}", problem="is required")
        classifier = message_classifier or ClassifierKey(
            brokername,
            brokerversion,
            _str(item["classifierName"], index=index, name=f"{where}.classifierName"),
            _str(item["classifierParams"], index=index, name=f"{where}.classifierParams"),
        )
        classid = _int(item["classId"], index=index, name=f"{where}.classId", lo=INT_MIN, hi=INT_MAX)
        probability = _probability(item["probability"], index=index, name=f"{where}.probability")
        if (classifier, classid) in seen:
            repeated.append(classifier)
            continue
        seen.add((classifier, classid))
        classifications.append(ClassificationIn(classifier, classid, probability))

    if origin is None:
        key = rest_message_key(
            alertid=alertid,
            diasourceid=diasourceid,
            published_ms=published,
            ingested_ms=ingested,
            brokername=brokername,
            brokerversion=brokerversion,
            classifications=[
                (c.classifier.classifiername, c.classifier.classifierparams, c.classid, c.probability)
                for c in classifications
            ],
        )
        return BrokerMessageIn(
            key, alertid, diasourceid, published, ingested, brokerpublished, REST_TOPIC, None, None,
            *_columns(classifications), version, tuple(repeated),
        )  # fmt: skip
    return BrokerMessageIn(
        kafka_message_key(topic=origin.topic, partition=origin.partition, offset=origin.offset),
        alertid, diasourceid, published, ingested, origin.timestamp_ms, origin.topic, origin.offset,
        origin.partition, *_columns(classifications), version, tuple(repeated),
    )  # fmt: skip


def _columns(
    classifications: list[ClassificationIn],
) -> tuple[tuple[ClassifierKey, ...], tuple[int, ...], tuple[float, ...]]:
    if not classifications:
        return (), (), ()
    classifiers, classids, probabilities = zip(*classifications, strict=True)
    return classifiers, classids, probabilities


def _plain_and_short(key: ClassifierKey) -> bool:
    """No NUL and within the length limits (Avro strings are valid UTF-8)."""
    b, v, n, p = key
    return (
        len(b) <= MAX_NAME_CHARS
        and len(v) <= MAX_NAME_CHARS
        and len(n) <= MAX_NAME_CHARS
        and len(p) <= MAX_PARAMS_CHARS
        and not any("\x00" in t for t in key)
    )


# Classifier names already found plain and short, as their one shared key: a
# stream repeats a handful of classifiers, so checking each message's four
# texts again (and building a new key) was a fifth of the fast path. Bounded
# so a stream of ever-new names cannot grow it without end.
_MAX_CHECKED_CLASSIFIERS = 4096
_checked_classifiers: dict[tuple[str, str, str, str], ClassifierKey] = {}


def parse_avro_record(record: dict, *, schema_version: str, origin: MessageOrigin) -> BrokerMessageIn:
    """Validate a record that fastavro decoded from Kafka (the hot path).

    The schema already guarantees every field's presence and type, so only
    the rules it cannot express are checked here: probabilities in 0..1 (NaN
    fails the comparison), no NUL in strings, no text over its length limit,
    and whether a classId repeats for one classifier. Anything suspicious goes
    through `parse_broker_message`, which raises the precise
    `BrokerMessageError` (or keeps the first of repeated classIds)."""
    items = record["classifications"]
    classids = tuple([item["classId"] for item in items])
    brokername, brokerversion = record["brokerName"], record["brokerVersion"]
    if schema_version == "v0_9_1":
        texts = (brokername, brokerversion, record["classifierName"], record["classifierParams"])
        classifier = _checked_classifiers.get(texts)
        names_ok = classifier is not None
        if not names_ok:
            classifier = ClassifierKey(*texts)
            names_ok = _plain_and_short(classifier)
            if names_ok and len(_checked_classifiers) < _MAX_CHECKED_CLASSIFIERS:
                _checked_classifiers[texts] = classifier
        keys = (classifier,) * len(items)
        distinct = len(set(classids)) == len(classids)
    else:
        keys = tuple(
            [ClassifierKey(brokername, brokerversion, i["classifierName"], i["classifierParams"]) for i in items]
        )
        distinct = len(set(zip(keys, classids, strict=True))) == len(classids)
        names_ok = all(map(_plain_and_short, set(keys) or {ClassifierKey(brokername, brokerversion, "", "")}))
    probabilities = tuple([item["probability"] for item in items])
    # Bound-method comparisons in C; NaN fails both.
    in_range = all(map((0.0).__le__, probabilities)) and all(map((1.0).__ge__, probabilities))
    if not (distinct and in_range and names_ok):
        return parse_broker_message(record, schema_version=schema_version, origin=origin)
    published = record["elasticcPublishTimestamp"]
    ingested = record["brokerIngestTimestamp"]
    return BrokerMessageIn(
        kafka_message_key(topic=origin.topic, partition=origin.partition, offset=origin.offset),
        record["alertId"],
        record["diaSourceId"],
        published if isinstance(published, int) else (published - _EPOCH) // _MS,
        ingested if ingested is None or isinstance(ingested, int) else (ingested - _EPOCH) // _MS,
        origin.timestamp_ms,
        origin.topic,
        origin.offset,
        origin.partition,
        keys,
        classids,
        probabilities,
        schema_version,
    )


def parse_broker_messages(*, payloads: Sequence[Any], schema_version: str | None = None) -> list[BrokerMessageIn]:
    """Validate a list of REST messages; the first bad one raises
    `BrokerMessageError` (with its list index), so a bad list is rejected
    whole. `schema_version` None detects each message's version from its
    form (`classifierName` at the top level means v0_9_1)."""
    if schema_version is not None:
        check_schema_version(schema_version)
    return [parse_broker_message(payload, index=i, schema_version=schema_version) for i, payload in enumerate(payloads)]
