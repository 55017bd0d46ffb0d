"""Kafka topics in tests: creating one, producing broker classifications
into it, reading a whole topic without a consumer group, a group's committed
offsets.

Assigning partitions explicitly skips the group join (slow on tansu) and
reading up to the high watermarks makes "everything that is in the topic"
exact rather than "whatever arrived before a timeout".
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from elasticc.avro import codec as avro_codec

CLASSES = (111, 112, 113, 114, 115, 135, 131)  # 7 classifications per message


def topic_exists(bootstrap: str, topic: str) -> bool:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "allow.auto.create.topics": False})
    try:
        return topic in consumer.list_topics(timeout=10).topics
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, idle: float = 2.0, timeout: float = 60.0) -> list:
    """Every message now in `topic` (all partitions), in partition/offset order.

    Reads from the beginning until nothing arrives for `idle` seconds (tansu's
    ListOffsets does not report true high watermarks, so they cannot bound
    the read); callers have flushed their producers first.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{topic}",
            "enable.auto.commit": False,
            "allow.auto.create.topics": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        messages = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() - last < idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} still delivering after {timeout} s ({len(messages)} messages)")
            batch = consumer.consume(1000, 0.2)
            for msg in batch:
                if msg.error():
                    raise KafkaException(msg.error())
                messages.append(msg)
            if batch:
                last = time.monotonic()
        return sorted(messages, key=lambda m: (m.partition(), m.offset()))
    finally:
        consumer.close()


def make_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=20)


def record(alert: int, version: str = "v0_9_1", *, classid: int | None = None) -> dict:
    now_ms = int(time.time() * 1000)
    base = {
        "alertId": alert,
        "diaSourceId": alert * 10,
        "elasticcPublishTimestamp": now_ms - 2000,
        "brokerIngestTimestamp": now_ms - 1000,
        "brokerName": "TestBroker",
        "brokerVersion": "v1.0",
    }
    probs = [(c, 1 / len(CLASSES)) for c in CLASSES]
    if classid is not None:
        probs[0] = (classid, probs[0][1])
    if version == "v0_9_1":
        return {
            **base,
            "classifierName": "RandomSNType",
            "classifierParams": "Perfect",
            "classifications": [{"classId": c, "probability": p} for c, p in probs],
        }
    return {
        **base,
        "classifications": [
            {"classifierName": "NugentClassifier", "classifierParams": "100%", "classId": 111, "probability": 1.0},
            {"classifierName": "Multi", "classifierParams": "a", "classId": 121, "probability": 0.25},
            {"classifierName": "Multi", "classifierParams": "a", "classId": 122, "probability": 0.75},
            {"classifierName": "Multi", "classifierParams": "b", "classId": 221, "probability": 1.0},
        ],
    }


def produce(bootstrap: str, topic: str, payloads: list[bytes], partitions: int = 2) -> dict[int, int]:
    """Produce `payloads` round-robin over `partitions`; returns the end
    offset (last delivered offset + 1) of every partition written."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    failures = []
    ends: dict[int, int] = {}

    def delivered(err, msg):
        if err is not None:
            failures.append(err)
        else:
            ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)

    for i, payload in enumerate(payloads):
        while True:
            try:
                producer.produce(topic, payload, partition=i % partitions, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not failures
    return ends


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 2) -> dict[int, int]:
    """The offsets `group` committed for `topic` (negative: none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=20)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        consumer.close()


def encode(records: list[dict], version: str = "v0_9_1") -> list[bytes]:
    return avro_codec.encode_many(records, "brokerClassification", version)
