"""Reading whole Kafka topics in tests, without a consumer group.

Assigning partitions explicitly skips the group join (slow on tansu) and
reading up to the high watermarks makes "everything that is in the topic"
exact rather than "whatever arrived before a timeout".
"""

from __future__ import annotations

import socket
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
