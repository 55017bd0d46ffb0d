"""Broker messages: validation and the one storage path (REST PUT and Kafka).

Every broker message, whether PUT over REST or consumed from Kafka by
`brokerpoll`, goes through `parse_broker_message(s)` and then
`store_broker_messages`, so both paths apply the same rules and give the same
rows.

Why it is written this way:
- Throughput. A campaign brings hundreds of millions of messages with several
  classifications each, so a batch is stored with a fixed number of set-based
  statements (never a query per message): classifiers are registered with one
  `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`, then messages
  and their classifications are written by ONE statement whose first
  data-modifying CTE inserts the messages from `unnest` arrays with
  `ON CONFLICT (messagekey) DO NOTHING RETURNING` and whose second inserts the
  classifications of exactly the newly inserted messages. The arrays are sent
  as binary parameters with server-side binding (psycopg's client-side
  binding would render thousands of array elements as SQL text). COPY into a
  temporary table was measured too (bench/kafka_poll.py, `--copy-probe`) and
  was slower at batch sizes of 1,000 messages, because it needs three extra
  statements per batch.
- Idempotency. Each message has a natural identity, `messagekey`, with a
  unique constraint: Kafka `kafka:<topic>:<partition>:<offset>`, REST
  `rest:<sha256>` of the canonical message content. A replay (Kafka
  redelivery after a crash, a broker retrying a PUT) inserts nothing, and
  classifications are written only for messages that were actually inserted.
  The REST digest leaves out `brokerPublishTimestamp`, because a client
  retrying a PUT naturally re-stamps its publish time while the message is
  the same; it is computed from the normalised content, so the v0_9 and
  v0_9_1 spellings of one message have one identity.
- Partitions. Registering a classifier fires the AFTER INSERT trigger that
  creates its partition of `elasticc_brokerclassification` in the same
  transaction, so classifiers are registered before their classifications are
  inserted, and everything (classifiers, messages, classifications) commits
  or rolls back together. Rows always go into the parent tables, so the
  row-count triggers see them.
- Validation happens entirely before anything is written: a bad payload
  raises `BrokerMessageError` naming its list index and field, and nothing of
  that call is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from django.db import connection, transaction

SCHEMA_VERSIONS = ("v0_9", "v0_9_1")
REST_TOPIC = "REST_push"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
        self.field = field
        self.problem = problem
        super().__init__(f"message {index}: field {field}: {problem}")


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
    """Where a Kafka message came from (its identity and header time)."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None


@dataclass(frozen=True)
class BrokerMessageIn:
    """A validated broker message, ready for `store_broker_messages`."""

    messagekey: str
    alertid: int
    diasourceid: int
    elasticcpublishtimestamp: datetime
    brokeringesttimestamp: datetime | None
    msghdrtimestamp: datetime | None
    topicname: str
    streammessageid: int | None
    kafkapartition: int | None
    classifications: tuple[ClassificationIn, ...]


@dataclass(frozen=True)
class StoreResult:
    num_loaded: int
    first_brokermessageid: int | None
    num_classifications: int
    new_classifiers: tuple[Classifier, ...] = field(default_factory=tuple)


def kafka_message_key(*, topic: str, partition: int, offset: int) -> str:
    """Identity of a Kafka message: it is stored once per topic/partition/offset."""
    return f"kafka:{topic}:{partition}:{offset}"


def rest_message_key(payload: Mapping[str, Any]) -> str:
    """Identity of a REST message: `rest:` + sha256 of its canonical content
    (without `brokerPublishTimestamp`; the same for both schema versions)."""
    return parse_broker_message(payload).messagekey


# --- classId cache -------------------------------------------------------------

_CLASSID_REFRESH_SECONDS = 60.0
_classid_lock = threading.Lock()
_classids: frozenset[int] = frozenset()
_classids_loaded_at = -math.inf


def _known_classid(classid: int) -> bool:
    """Whether `classid` is in the taxonomy. The set is cached per process
    and re-read (at most once a minute) when an id is not found."""
    global _classids, _classids_loaded_at
    if classid in _classids:
        return True
    with _classid_lock:
        if time.monotonic() - _classids_loaded_at > _CLASSID_REFRESH_SECONDS or not _classids:
            with connection.cursor() as cursor:
                cursor.execute("SELECT classid FROM elasticc_classid")
                _classids = frozenset(row[0] for row in cursor.fetchall())
            _classids_loaded_at = time.monotonic()
    return classid in _classids


# --- parsing -------------------------------------------------------------------


def _int(value: Any, *, index: int, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BrokerMessageError(index=index, field=name, problem=f"must be an integer, got {value!r:.60}")
    if not lo <= value <= hi:
        raise BrokerMessageError(index=index, field=name, problem=f"{value} is out of range")
    return value


def _str(value: Any, *, index: int, name: str) -> str:
    if not isinstance(value, str):
        raise BrokerMessageError(index=index, field=name, problem=f"must be a string, got {value!r:.60}")
    if "\x00" in value:
        raise BrokerMessageError(index=index, field=name, problem="must not contain NUL characters")
    return value


def _timestamp(value: Any, *, index: int, name: str, required: bool) -> datetime | None:
    if value is None:
        if required:
            raise BrokerMessageError(index=index, field=name, problem="is required")
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BrokerMessageError(
            index=index, field=name, problem=f"must be milliseconds since 1970 (integer), got {value!r:.60}"
        )
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise BrokerMessageError(index=index, field=name, problem=f"{value} is out of range") from None


def _ms(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // timedelta(milliseconds=1)


def _probability(value: Any, *, index: int, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BrokerMessageError(index=index, field=name, problem=f"must be a number, got {value!r:.60}")
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise BrokerMessageError(index=index, field=name, problem=f"{value} is outside 0..1")
    return value


def _detect_version(payload: Mapping[str, Any], schema_version: str | None) -> str:
    if schema_version is None:
        return "v0_9_1" if "classifierName" in payload else "v0_9"
    if schema_version not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown schema version {schema_version!r} (expected v0_9 or v0_9_1)")
    return schema_version


def parse_broker_message(
    payload: Any,
    *,
    index: int = 0,
    schema_version: str | None = None,
    origin: MessageOrigin | None = None,
) -> BrokerMessageIn:
    """Validate one message (JSON or Avro-decoded dict). With a Kafka `origin` the message is keyed by topic,
    partition and offset and its header time is the Kafka timestamp;
    without, it is a REST message keyed by its content digest and timed by
    its optional `brokerPublishTimestamp`."""
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
    published = _timestamp(
        payload["elasticcPublishTimestamp"], index=index, name="elasticcPublishTimestamp", required=True
    )
    ingested = _timestamp(
        payload.get("brokerIngestTimestamp"), index=index, name="brokerIngestTimestamp", required=False
    )
    brokerpublished = _timestamp(
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
        if not _known_classid(classid):
            raise BrokerMessageError(
                index=index, field=f"{where}.classId", problem=f"{classid} is not an ELAsTiCC classId"
            )
        probability = _probability(item["probability"], index=index, name=f"{where}.probability")
        if (classifier, classid) in seen:
            raise BrokerMessageError(
                index=index, field=f"{where}.classId", problem=f"{classid} appears twice for one classifier"
            )
        seen.add((classifier, classid))
        classifications.append(ClassificationIn(classifier, classid, probability))

    if origin is None:
        return BrokerMessageIn(
            messagekey=_rest_key(alertid, diasourceid, published, ingested, brokername, brokerversion, classifications),
            alertid=alertid,
            diasourceid=diasourceid,
            elasticcpublishtimestamp=published,
            brokeringesttimestamp=ingested,
            msghdrtimestamp=brokerpublished,
            topicname=REST_TOPIC,
            streammessageid=None,
            kafkapartition=None,
            classifications=tuple(classifications),
        )
    return BrokerMessageIn(
        messagekey=kafka_message_key(topic=origin.topic, partition=origin.partition, offset=origin.offset),
        alertid=alertid,
        diasourceid=diasourceid,
        elasticcpublishtimestamp=published,
        brokeringesttimestamp=ingested,
        msghdrtimestamp=origin.timestamp,
        topicname=origin.topic,
        streammessageid=origin.offset,
        kafkapartition=origin.partition,
        classifications=tuple(classifications),
    )


def _rest_key(
    alertid: int,
    diasourceid: int,
    published: datetime | None,
    ingested: datetime | None,
    brokername: str,
    brokerversion: str,
    classifications: list[ClassificationIn],
) -> str:
    """`rest:` + sha256 of the normalised content (classifier named per
    classification, timestamps in ms, no brokerPublishTimestamp)."""
    canonical = json.dumps(
        [
            alertid,
            diasourceid,
            _ms(published),
            _ms(ingested),
            brokername,
            brokerversion,
            [
                [c.classifier.classifiername, c.classifier.classifierparams, c.classid, c.probability]
                for c in classifications
            ],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "rest:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_broker_messages(*, payloads: Sequence[Any], schema_version: str | None = None) -> list[BrokerMessageIn]:
    """Validate a list of REST messages; the first bad one raises
    `BrokerMessageError` (with its list index), so a bad list is rejected
    whole. `schema_version` None detects each message's version from its
    form (`classifierName` at the top level means v0_9_1)."""
    if schema_version is not None and schema_version not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown schema version {schema_version!r} (expected v0_9 or v0_9_1)")
    return [parse_broker_message(payload, index=i, schema_version=schema_version) for i, payload in enumerate(payloads)]


# --- storage -------------------------------------------------------------------

_REGISTER_CLASSIFIERS_SQL = """
INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams)
SELECT u.b, u.v, u.n, u.p
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(b, v, n, p)
WHERE NOT EXISTS (
    SELECT 1 FROM elasticc_brokerclassifier c
    WHERE c.brokername = u.b AND c.brokerversion = u.v AND c.classifiername = u.n AND c.classifierparams = u.p
)
ON CONFLICT (brokername, brokerversion, classifiername, classifierparams) DO NOTHING
RETURNING classifierid, brokername, brokerversion, classifiername, classifierparams
"""

_SELECT_CLASSIFIERS_SQL = """
SELECT c.classifierid, c.brokername, c.brokerversion, c.classifiername, c.classifierparams
FROM elasticc_brokerclassifier c
JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(b, v, n, p)
  ON c.brokername = u.b AND c.brokerversion = u.v AND c.classifiername = u.n AND c.classifierparams = u.p
"""

# Messages and classifications in one statement: `ins` returns the ids of the
# messages actually inserted (a replayed key returns nothing), and only their
# classifications are written.
_STORE_SQL = """
WITH ins AS (
    INSERT INTO elasticc_brokermessage (
        messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
        msghdrtimestamp, elasticcpublishtimestamp, brokeringesttimestamp)
    SELECT * FROM unnest(
        %s::text[], %s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::bigint[],
        %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
    ON CONFLICT (messagekey) DO NOTHING
    RETURNING brokermessageid, messagekey
), cls AS (
    INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability)
    SELECT ins.brokermessageid, u.classifierid, u.classid, u.probability
    FROM unnest(%s::text[], %s::int[], %s::int[], %s::real[]) AS u(messagekey, classifierid, classid, probability)
    JOIN ins USING (messagekey)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT min(brokermessageid) FROM ins), (SELECT count(*) FROM cls)
"""


def _register_classifiers(
    cursor: psycopg.Cursor, keys: set[ClassifierKey]
) -> tuple[dict[ClassifierKey, int], tuple[Classifier, ...]]:
    columns = [list(column) for column in zip(*sorted(keys), strict=True)]
    cursor.execute(_REGISTER_CLASSIFIERS_SQL, columns, binary=True)
    new = tuple(Classifier(*row) for row in cursor.fetchall())
    cursor.execute(_SELECT_CLASSIFIERS_SQL, columns, binary=True)
    ids = {ClassifierKey(*row[1:]): row[0] for row in cursor.fetchall()}
    return ids, tuple(sorted(new))


def store_broker_messages(*, messages: Sequence[BrokerMessageIn]) -> StoreResult:
    """Store validated messages in one transaction (joining the caller's, if
    any): register new classifiers (their partitions follow), insert the
    messages not stored before and the classifications of those. Returns how
    many messages were new, the smallest new id, how many classifications
    were written and which classifiers were registered."""
    unique: dict[str, BrokerMessageIn] = {}
    for message in messages:
        unique.setdefault(message.messagekey, message)
    if not unique:
        return StoreResult(num_loaded=0, first_brokermessageid=None, num_classifications=0)
    batch = list(unique.values())
    classifier_keys = {c.classifier for m in batch for c in m.classifications}

    with transaction.atomic():
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            classifier_ids, new_classifiers = (
                _register_classifiers(cursor, classifier_keys) if classifier_keys else ({}, ())
            )
            ckeys: list[str] = []
            cids: list[int] = []
            classids: list[int] = []
            probs: list[float] = []
            for m in batch:
                for c in m.classifications:
                    ckeys.append(m.messagekey)
                    cids.append(classifier_ids[c.classifier])
                    classids.append(c.classid)
                    probs.append(c.probability)
            cursor.execute(
                _STORE_SQL,
                [
                    [m.messagekey for m in batch],
                    [m.streammessageid for m in batch],
                    [m.topicname for m in batch],
                    [m.kafkapartition for m in batch],
                    [m.alertid for m in batch],
                    [m.diasourceid for m in batch],
                    [m.msghdrtimestamp for m in batch],
                    [m.elasticcpublishtimestamp for m in batch],
                    [m.brokeringesttimestamp for m in batch],
                    ckeys,
                    cids,
                    classids,
                    probs,
                ],
                binary=True,
            )
            num_loaded, first_id, num_classifications = cursor.fetchone()
    return StoreResult(
        num_loaded=num_loaded,
        first_brokermessageid=first_id,
        num_classifications=num_classifications,
        new_classifiers=new_classifiers,
    )
