"""A stand-in alert broker for tests and the demo (`manage.py fakebroker`).

It reads ELAsTiCC alerts and answers each with classifications from two
"classifiers" (README, "The alert cycle on Kafka"), in the taxonomy of its schema version as the
real brokers did: NugentClassifier (params `100%`) always says Ia with
probability 1, and RandomSNType (params `Perfect`) spreads random
probabilities over supernova-like classes with the remainder on SLSN.
- v0_9_1 (ELAsTiCC2, 4-digit): Ia is 2222; RandomSNType gives 19 classes
  in random order and the remainder to 2242, 20 classifications.
- v0_9 (ELAsTiCC, 3-digit): Ia is 111; RandomSNType gives 111-115 and 135
  and the remainder to 131.
Each classifier's answer is one message, in both versions (v0_9 names the
classifier in each classification, v0_9_1 once per message).

Only `alertId` and `diaSourceId` of the alert are needed, and both schema
versions start with exactly those two longs (alertId, then diaSource's first
field), so alerts are read by their prefix whatever version they were sent
in. Offsets are committed after the answers are flushed to Kafka, so a crash
re-answers rather than skips alerts (at least once, like a real broker).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, Producer

from elasticc.avro.codec import encode_many
from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, check_schema_version
from elasticc.stream.kafka_errors import log_kafka_error

logger = logging.getLogger(__name__)

BROKER_NAME = "FakeBroker"
BROKER_VERSION = "v1.0"
NUGENT = ("NugentClassifier", "100%")
RANDOM_SN = ("RandomSNType", "Perfect")
# schema version -> (Ia, the classes RandomSNType spreads over, the remainder class)
TAXONOMY_OF_SCHEMA: dict[str, tuple[int, tuple[int, ...], int]] = {
    "v0_9": (111, (111, 112, 113, 114, 115, 135), 131),
    "v0_9_1": (
        2222,
        (2222, 2223, 2224, 2225, 2226, 2232, 2233, 2234, 2235, 2243, 2244, 2245, 2246,
         2322, 2323, 2324, 2325, 2326, 2332),
        2242,
    ),
}  # fmt: skip


@dataclass
class FakeBrokerStats:
    alerts: int = 0
    messages: int = 0
    bad: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"FakeBroker: answered {self.alerts} alerts with {self.messages} messages "
            f"({self.bad} unreadable) in {self.seconds:.1f} s"
        )


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """One Avro long at `pos`: (value, next position). ValueError if truncated
    or longer than 10 bytes."""
    shift = 0
    n = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or invalid Avro long")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1), pos


def alert_ids(payload: bytes) -> tuple[int, int]:
    """(alertId, diaSourceId) from the start of a schemaless alert."""
    alert_id, pos = read_long(payload, 0)
    source_id, _ = read_long(payload, pos)
    return alert_id, source_id


def random_sn_probabilities(rng: random.Random, *, schema_version: str = "v0_9") -> list[tuple[int, float]]:
    """Random probabilities for the classes of the schema's taxonomy, the rest
    on SLSN; sums to 1. ELAsTiCC2's brokers listed them in random order (the
    share of a class must not depend on its position), ELAsTiCC's in a fixed one."""
    _ia, classes, remainder = TAXONOMY_OF_SCHEMA[schema_version]
    if schema_version == "v0_9_1":
        classes = tuple(rng.sample(classes, len(classes)))
    left = 1.0
    out = []
    for classid in classes:
        p = rng.random() * left
        left -= p
        out.append((classid, p))
    out.append((remainder, left))
    return out


def classify(
    *, alert_id: int, source_id: int, publish_ms: int, ingest_ms: int, schema_version: str, rng: random.Random
) -> list[dict]:
    """The brokerClassification records answering one alert, one per classifier."""
    head = {
        "alertId": alert_id,
        "diaSourceId": source_id,
        "elasticcPublishTimestamp": publish_ms,
        "brokerIngestTimestamp": ingest_ms,
        "brokerName": BROKER_NAME,
        "brokerVersion": BROKER_VERSION,
    }
    check_schema_version(schema_version)
    nugent = [(TAXONOMY_OF_SCHEMA[schema_version][0], 1.0)]
    random_sn = random_sn_probabilities(rng, schema_version=schema_version)
    if schema_version == "v0_9":
        # v0_9 names the classifier in each classification; still one
        # message per classifier (README, "The alert cycle on Kafka"), as for v0_9_1.
        return [
            {
                **head,
                "classifications": [
                    {"classifierName": name, "classifierParams": params, "classId": c, "probability": p}
                    for c, p in probs
                ],
            }
            for (name, params), probs in ((NUGENT, nugent), (RANDOM_SN, random_sn))
        ]
    return [
        {
            **head,
            "classifierName": name,
            "classifierParams": params,
            "classifications": [{"classId": c, "probability": p} for c, p in probs],
        }
        for (name, params), probs in ((NUGENT, nugent), (RANDOM_SN, random_sn))
    ]


@dataclass(frozen=True)
class FakeBrokerOptions:
    """Where the fake broker reads alerts (`source_topics`: names, or `^regex`)
    and writes its classifications, and when it stops by itself: after
    `max_messages` alerts, or `idle_exit` seconds without one."""

    source_topics: list[str]
    dest_topic: str
    kafka_server: str
    dest_kafka_server: str | None = None
    group: str = "fakebroker"
    schema_version: str = DEFAULT_SCHEMA_VERSION
    max_messages: int | None = None
    idle_exit: float | None = None
    batch_size: int = 1000
    consumer_config: dict | None = None
    seed: int | None = None


def run_fake_broker(*, options: FakeBrokerOptions, stop: threading.Event | None = None) -> FakeBrokerStats:
    """Answer alerts with classifications until `stop` is set or `options` say to stop."""
    stop = stop or threading.Event()
    rng = random.Random(options.seed)
    consumer = Consumer(
        {
            "bootstrap.servers": options.kafka_server,
            "group.id": options.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            # Notice soon a source topic created after we subscribed (the
            # demo starts us before the first alert is sent).
            "topic.metadata.refresh.interval.ms": 5000,
            "error_cb": log_kafka_error,
            **(options.consumer_config or {}),
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": options.dest_kafka_server or options.kafka_server,
            "linger.ms": 20,
            "error_cb": log_kafka_error,
        }
    )
    stats = FakeBrokerStats()
    start = last_seen = time.monotonic()
    consumer.subscribe(options.source_topics)
    try:
        while not stop.is_set():
            if options.max_messages is not None and stats.alerts >= options.max_messages:
                break
            n = options.batch_size
            if options.max_messages is not None:
                n = min(n, options.max_messages - stats.alerts)
            batch = consumer.consume(n, 0.5)
            if not batch:
                if options.idle_exit is not None and time.monotonic() - last_seen > options.idle_exit:
                    break
                continue
            last_seen = time.monotonic()
            ingest_ms = int(time.time() * 1000)
            records = []
            for msg in batch:
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        logger.warning("FakeBroker consume error: %s", msg.error())
                    continue
                try:
                    alert_id, source_id = alert_ids(msg.value() or b"")
                except ValueError as exc:
                    stats.bad += 1
                    logger.warning("FakeBroker skipped %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                    continue
                stats.alerts += 1
                records += classify(
                    alert_id=alert_id,
                    source_id=source_id,
                    publish_ms=_publish_ms(msg, ingest_ms),
                    ingest_ms=ingest_ms,
                    schema_version=options.schema_version,
                    rng=rng,
                )
            for record, payload in zip(
                records, encode_many(records, "brokerClassification", options.schema_version), strict=True
            ):
                producer.produce(options.dest_topic, payload, key=str(record["alertId"]).encode())
                producer.poll(0)
            if producer.flush(30) > 0:
                raise RuntimeError(f"FakeBroker could not deliver to {options.dest_topic}; offsets not committed")
            stats.messages += len(records)
            # A batch of only errors (e.g. "topic not there yet") stored no
            # offset, and committing nothing is an error in librdkafka.
            if any(not msg.error() for msg in batch):
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()
        stats.seconds = time.monotonic() - start
    return stats


def _publish_ms(msg, fallback_ms: int) -> int:
    """The alert message's Kafka timestamp (ms); brokers without message
    timestamps get the read time instead."""
    ts_type, ts = msg.timestamp()
    return ts if ts_type != TIMESTAMP_NOT_AVAILABLE and ts >= 0 else fallback_ms
