"""Broker messages: validation and the one storage path (REST PUT and Kafka).

Every broker message, whether PUT over REST or consumed from Kafka by
`brokerpoll`, goes through `parse_broker_message(s)` and then
`store_broker_messages`, so both paths apply the same rules and give the same
rows.

Why it is written this way:
- Throughput. A campaign brings hundreds of millions of messages with several
  classifications each, so a batch is stored with three set-based
  statements, never a query per message: (1) classifiers are registered and
  looked up in one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
  NOTHING` CTE; (2) the messages go in with one `INSERT ... SELECT FROM
  unnest(...) ON CONFLICT (messagekey) DO NOTHING RETURNING`, which returns
  the ids of exactly the newly inserted ones; (3) the classifications of
  those are COPYed (binary format, rows packed by `struct`) into the parent
  table. The arrays travel as PostgreSQL
  array literals built with `str.join` (parsed in C by the server), as
  psycopg's per-element array adaptation cost more than the database work;
  timestamps travel as milliseconds and become timestamptz in SQL.
  bench/kafka_poll.py --store-probe measures the alternatives (one
  statement with a second data-modifying CTE inserting the classifications
  from array literals, or from binary-adapted arrays): PostgreSQL spends
  about the same CPU per message on all three (within this shared machine's
  noise), and this one needs the least Python CPU (9-10 us per message
  against 13-20), which is what limits brokerpoll as its Python and
  database work overlap. Avro-decoded
  Kafka records have their types guaranteed by the schema, so they take a
  fast validation path that checks only the rules the schema cannot
  (taxonomy, probability range, duplicates, NUL); any failure re-runs the
  full validator for a precise error.
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
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any, NamedTuple

import psycopg
from django.db import connection, transaction

SCHEMA_VERSIONS = ("v0_9", "v0_9_1")
REST_TOPIC = "REST_push"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
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
    """Where a Kafka message came from: its identity and header time (ms)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


class BrokerMessageIn(NamedTuple):
    """A validated broker message, ready for `store_broker_messages`.
    Timestamps are milliseconds since 1970 (UTC), or None. Classifications
    are held column-wise (`classifiers[i]`, `classids[i]`, `probabilities[i]`),
    which is what bulk storage consumes; `classifications` zips them."""

    messagekey: str
    alertid: int
    diasourceid: int
    elasticcpublish_ms: int
    brokeringest_ms: int | None
    msghdr_ms: int | None
    topicname: str
    streammessageid: int | None
    kafkapartition: int | None
    classifiers: tuple[ClassifierKey, ...]
    classids: tuple[int, ...]
    probabilities: tuple[float, ...]

    @property
    def classifications(self) -> tuple[ClassificationIn, ...]:
        return tuple(map(ClassificationIn, self.classifiers, self.classids, self.probabilities))


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


def _taxonomy(*, refresh: bool = False) -> frozenset[int]:
    """The ELAsTiCC classIds, cached per process; `refresh` re-reads them
    (at most once a minute), for when an id was not found."""
    global _classids, _classids_loaded_at
    if _classids and not refresh:
        return _classids
    with _classid_lock:
        if not _classids or time.monotonic() - _classids_loaded_at > _CLASSID_REFRESH_SECONDS:
            with connection.cursor() as cursor:
                cursor.execute("SELECT classid FROM elasticc_classid")
                _classids = frozenset(row[0] for row in cursor.fetchall())
            _classids_loaded_at = time.monotonic()
    return _classids


def _known_classid(classid: int) -> bool:
    return classid in _taxonomy() or classid in _taxonomy(refresh=True)


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


_MS_MIN, _MS_MAX = -62135596800000, 253402300799999  # years 1..9999


def _timestamp_ms(value: Any, *, index: int, name: str, required: bool) -> int | None:
    """Milliseconds since 1970 from an int (JSON) or a datetime (Avro)."""
    if value is None:
        if required:
            raise BrokerMessageError(index=index, field=name, problem="is required")
        return None
    if isinstance(value, datetime):
        return ((value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH) // _MS
    if isinstance(value, bool) or not isinstance(value, int):
        raise BrokerMessageError(
            index=index, field=name, problem=f"must be milliseconds since 1970 (integer), got {value!r:.60}"
        )
    if not _MS_MIN <= value <= _MS_MAX:
        raise BrokerMessageError(index=index, field=name, problem=f"{value} is out of range")
    return value


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
        key = _rest_key(alertid, diasourceid, published, ingested, brokername, brokerversion, classifications)
        return BrokerMessageIn(
            key, alertid, diasourceid, published, ingested, brokerpublished, REST_TOPIC, None, None,
            *_columns(classifications),
        )  # fmt: skip
    return BrokerMessageIn(
        f"kafka:{origin.topic}:{origin.partition}:{origin.offset}",
        alertid, diasourceid, published, ingested, origin.timestamp_ms, origin.topic, origin.offset,
        origin.partition, *_columns(classifications),
    )  # fmt: skip


def _columns(
    classifications: list[ClassificationIn],
) -> tuple[tuple[ClassifierKey, ...], tuple[int, ...], tuple[float, ...]]:
    if not classifications:
        return (), (), ()
    classifiers, classids, probabilities = zip(*classifications, strict=True)
    return classifiers, classids, probabilities


def parse_avro_record(record: dict, *, schema_version: str, origin: MessageOrigin) -> BrokerMessageIn:
    """Validate a record that fastavro decoded from Kafka (the hot path).

    The schema already guarantees every field's presence and type, so only
    the rules it cannot express are checked here: classIds in the taxonomy,
    probabilities in 0..1 (NaN fails the comparison), no classId twice for
    one classifier, no NUL in strings. Anything suspicious goes through
    `parse_broker_message`, which raises the precise `BrokerMessageError`."""
    items = record["classifications"]
    classids = tuple([item["classId"] for item in items])
    brokername, brokerversion = record["brokerName"], record["brokerVersion"]
    if schema_version == "v0_9_1":
        classifier = ClassifierKey(brokername, brokerversion, record["classifierName"], record["classifierParams"])
        keys = (classifier,) * len(items)
        distinct = len(set(classids)) == len(classids)
        texts = classifier
    else:
        keys = tuple(
            [ClassifierKey(brokername, brokerversion, i["classifierName"], i["classifierParams"]) for i in items]
        )
        distinct = len(set(zip(keys, classids, strict=True))) == len(classids)
        texts = (brokername, brokerversion, *(t for k in set(keys) for t in k[2:]))
    probabilities = tuple([item["probability"] for item in items])
    if (
        not distinct
        or not _taxonomy().issuperset(classids)
        or not all(0.0 <= p <= 1.0 for p in probabilities)
        or any("\x00" in t for t in texts)
    ):
        return parse_broker_message(record, schema_version=schema_version, origin=origin)
    published = record["elasticcPublishTimestamp"]
    ingested = record["brokerIngestTimestamp"]
    return BrokerMessageIn(
        f"kafka:{origin.topic}:{origin.partition}:{origin.offset}",
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
    )


def _rest_key(
    alertid: int,
    diasourceid: int,
    published: int | None,
    ingested: int | None,
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
            published,
            ingested,
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


def _int_array(values: Sequence[int | None]) -> str:
    """A PostgreSQL array literal of integers (None -> NULL)."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _text_array(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of strings, every element quoted."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


# Registers the classifiers not yet known (their partitions follow by
# trigger) and returns the id of every requested one. The outer SELECT's
# snapshot predates `new`, so new rows come from RETURNING and old ones from
# the table; a classifier another process registers concurrently is missing
# from both, which the caller detects and retries.
_CLASSIFIERS_SQL = """
WITH want AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(b, v, n, p)
), new AS (
    INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams)
    SELECT b, v, n, p FROM want
    WHERE NOT EXISTS (
        SELECT 1 FROM elasticc_brokerclassifier c
        WHERE c.brokername = want.b AND c.brokerversion = want.v
          AND c.classifiername = want.n AND c.classifierparams = want.p)
    ON CONFLICT (brokername, brokerversion, classifiername, classifierparams) DO NOTHING
    RETURNING classifierid, brokername, brokerversion, classifiername, classifierparams
)
SELECT classifierid, brokername, brokerversion, classifiername, classifierparams, true FROM new
UNION ALL
SELECT c.classifierid, c.brokername, c.brokerversion, c.classifiername, c.classifierparams, false
FROM elasticc_brokerclassifier c
JOIN want ON c.brokername = want.b AND c.brokerversion = want.v
         AND c.classifiername = want.n AND c.classifierparams = want.p
"""

# New messages only (a replayed key returns nothing); RETURNING gives the ids
# their classifications need.
_INSERT_MESSAGES_SQL = """
INSERT INTO elasticc_brokermessage (
    messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
    msghdrtimestamp, elasticcpublishtimestamp, brokeringesttimestamp)
SELECT messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
       'epoch'::timestamptz + msghdr_ms * interval '1 millisecond',
       'epoch'::timestamptz + published_ms * interval '1 millisecond',
       'epoch'::timestamptz + ingested_ms * interval '1 millisecond'
FROM unnest(
    %s::text[], %s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::bigint[],
    %s::bigint[], %s::bigint[], %s::bigint[]
) AS u(messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
       msghdr_ms, published_ms, ingested_ms)
ON CONFLICT (messagekey) DO NOTHING
RETURNING brokermessageid, messagekey
"""

_COPY_CLASSIFICATIONS_SQL = (
    "COPY elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
    "FROM STDIN (FORMAT BINARY)"
)
# PostgreSQL's binary COPY format: a signature, flags and extension length,
# then per row the field count and each field as (length, big-endian value):
# bigint brokermessageid, int classifierid, int classid, real probability;
# a field count of -1 ends the data. struct packs each row in C, several
# times faster than formatting text rows (float repr dominates those).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_ROW = struct.Struct(">hiqiiiiif")
_COPY_TRAILER = struct.pack(">h", -1)


def _copy_binary(message_ids: list[int], classifierids: list[int], classids: list[int], probs: list[float]) -> bytes:
    n = len(message_ids)
    rows = map(
        _COPY_ROW.pack,
        repeat(4, n), repeat(8, n), message_ids, repeat(4, n), classifierids, repeat(4, n), classids, repeat(4, n),
        probs,
    )  # fmt: skip
    return b"".join((_COPY_HEADER, *rows, _COPY_TRAILER))


def _register_classifiers(
    cursor: psycopg.Cursor, keys: set[ClassifierKey]
) -> tuple[dict[ClassifierKey, int], tuple[Classifier, ...]]:
    wanted = sorted(keys)
    params = [_text_array(column) for column in zip(*wanted, strict=True)]
    ids: dict[ClassifierKey, int] = {}
    new: list[Classifier] = []
    for _attempt in range(5):
        cursor.execute(_CLASSIFIERS_SQL, params)
        for classifierid, b, v, n, p, is_new in cursor.fetchall():
            ids[ClassifierKey(b, v, n, p)] = classifierid
            if is_new:
                new.append(Classifier(classifierid, b, v, n, p))
        if len(ids) == len(wanted):
            return ids, tuple(sorted(new))
    raise RuntimeError(f"could not register classifiers {sorted(keys - set(ids))}")


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
    classifier_keys: set[ClassifierKey] = set()
    for m in batch:
        classifier_keys.update(m.classifiers)

    with transaction.atomic():
        connection.ensure_connection()
        # A plain psycopg cursor: server-side parameter binding, so each
        # array literal is sent once as a parameter, not spliced into the SQL.
        with psycopg.Cursor(connection.connection) as cursor:
            classifier_ids, new_classifiers = (
                _register_classifiers(cursor, classifier_keys) if classifier_keys else ({}, ())
            )
            columns = list(zip(*batch, strict=True))
            cursor.execute(
                _INSERT_MESSAGES_SQL,
                [
                    _text_array(columns[0]),  # messagekey
                    _int_array(columns[7]),  # streammessageid
                    _text_array(columns[6]),  # topicname
                    _int_array(columns[8]),  # kafkapartition
                    _int_array(columns[1]),  # alertid
                    _int_array(columns[2]),  # diasourceid
                    _int_array(columns[5]),  # msghdr_ms
                    _int_array(columns[3]),  # elasticcpublish_ms
                    _int_array(columns[4]),  # brokeringest_ms
                ],
            )
            new_ids = {key: id_ for id_, key in cursor.fetchall()}
            message_ids: list[int] = []
            classifier_column: list[int] = []
            classids: list[int] = []
            probabilities: list[float] = []
            classifier_id = classifier_ids.__getitem__
            for m in batch:
                message_id = new_ids.get(m.messagekey)
                if message_id is not None:
                    message_ids.extend(repeat(message_id, len(m.classids)))
                    classifier_column.extend(map(classifier_id, m.classifiers))
                    classids.extend(m.classids)
                    probabilities.extend(m.probabilities)
            if message_ids:
                with cursor.copy(_COPY_CLASSIFICATIONS_SQL) as copy:
                    copy.write(_copy_binary(message_ids, classifier_column, classids, probabilities))
    return StoreResult(
        num_loaded=len(new_ids),
        first_brokermessageid=min(new_ids.values(), default=None),
        num_classifications=len(message_ids),
        new_classifiers=new_classifiers,
    )
