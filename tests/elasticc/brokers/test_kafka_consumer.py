"""elasticc.brokers.kafka_consumer in-process: SourcePoller's batching, its
writer thread and its offset commits, on the real (tansu) Kafka broker and
the real test database (the pollers' threads use their own connections, so
the tests are transactional). brokerpoll as a subprocess (signals, exit
status, restarts) is tested in test_brokerpoll.py.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import pytest
from django.db import connection

from elasticc.brokers import kafka_consumer
from elasticc.brokers.kafka_consumer import PollOptions, SourcePoller
from elasticc.brokers.sources import make_source
from elasticc.models import BrokerClassification, BrokerMessage
from tests.kafka_topics import CLASSES, committed_offsets, encode, make_topic, produce, record

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.slow]

SESSION_TIMEOUT_MS = 6000  # tansu group joins take about half of it


def poller_for(bootstrap: str, topic: str, group: str, **options) -> SourcePoller:
    source = make_source(name="inproc", servers=bootstrap, topics=[topic], schema="v0_9_1", group=group)
    options = PollOptions(
        **{"batch_timeout": 0.3, "session_timeout_ms": SESSION_TIMEOUT_MS, "report_every": 60.0, **options}
    )
    return SourcePoller(source, options, threading.Event())


def run_until_idle(poller: SourcePoller, timeout: float = 90) -> None:
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the poller did not stop after max_idle"


def stored_alerts(topic: str) -> list[int]:
    return sorted(BrokerMessage.objects.filter(topicname=topic).values_list("alertid", flat=True))


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_batches_are_stored_counted_and_committed_to_the_end(kafka_bootstrap, unique_name):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    good = [record(i) for i in range(1, 251)]
    # One bad (not Avro), and one giving classId 112 twice: stored with the
    # first of them (a classId is never a reason to drop a message).
    payloads = [*encode(good[:120]), b"\x00\x01not avro", *encode([record(999, classid=112)]), *encode(good[120:])]
    ends = produce(kafka_bootstrap, topic, payloads)
    assert sum(ends.values()) == len(payloads)

    batch_size = 40
    poller = poller_for(kafka_bootstrap, topic, unique_name, batch_size=batch_size, max_idle=4.0)
    run_until_idle(poller)

    counts = poller.counts
    assert (counts.messages, counts.loaded, counts.classifications, counts.bad) == (
        251, 251, 251 * len(CLASSES) - 1, 1
    )  # fmt: skip
    # No batch is bigger than batch_size (a batch of only bad messages still counts: its offsets are committed).
    assert counts.batches >= math.ceil(len(payloads) / batch_size)
    assert stored_alerts(topic) == [*range(1, 251), 999]
    assert BrokerClassification.objects.filter(brokermessage__topicname=topic).count() == 251 * len(CLASSES) - 1
    assert sorted(
        BrokerClassification.objects.filter(brokermessage__alertid=999).values_list("classid", flat=True)
    ) == sorted(set(CLASSES) - {111})
    # Committed after the rows, up to the end of every partition (bad messages included).
    assert committed_offsets(kafka_bootstrap, unique_name, topic) == ends

    # The same group again: nothing left to read.
    again = poller_for(kafka_bootstrap, topic, unique_name, batch_size=batch_size, max_idle=4.0)
    run_until_idle(again)
    assert (again.counts.messages, again.counts.bad) == (0, 0)


def test_replay_from_the_start_stores_nothing_new(kafka_bootstrap, unique_name):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    ends = produce(kafka_bootstrap, topic, encode([record(i) for i in range(60)]))
    first = poller_for(kafka_bootstrap, topic, unique_name, batch_size=25, max_idle=4.0)
    run_until_idle(first)
    assert first.counts.loaded == 60
    replay = poller_for(kafka_bootstrap, topic, unique_name, batch_size=25, max_idle=4.0, reset=True)
    run_until_idle(replay)
    assert (replay.counts.messages, replay.counts.loaded, replay.counts.classifications) == (60, 0, 0)
    assert stored_alerts(topic) == list(range(60))
    assert committed_offsets(kafka_bootstrap, unique_name, topic) == ends


@pytest.fixture
def database_faults():
    """Real failing INSERTs in store_broker_messages for chosen alertIds,
    removed at the end: `refuse(alertid)` adds a CHECK constraint (the
    message's content is refused: a poison message); `fail(alertid)` adds a
    trigger raising disk_full (the database's state, not the message's)."""
    names: list[str] = []

    def refuse(alertid: int) -> str:
        name = f"test_reject_{alertid}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE elasticc_brokermessage ADD CONSTRAINT {name} CHECK (alertid <> {int(alertid)}) NOT VALID"
            )
        names.append(name)
        return name

    def fail(alertid: int) -> str:
        name = f"test_fail_{alertid}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'test: disk full' USING ERRCODE = 'disk_full'; END $$;
                CREATE TRIGGER {name} BEFORE INSERT ON elasticc_brokermessage FOR EACH ROW
                WHEN (NEW.alertid = {int(alertid)}) EXECUTE FUNCTION {name}();"""
            )
        names.append(name)
        return name

    yield refuse, fail
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"ALTER TABLE elasticc_brokermessage DROP CONSTRAINT IF EXISTS {name}")
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON elasticc_brokermessage")
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


def test_a_batch_that_fails_to_store_commits_nothing_and_is_retried(
    kafka_bootstrap, unique_name, database_faults, monkeypatch, caplog
):
    monkeypatch.setattr(kafka_consumer, "BACKOFF_START", 0.3)
    monkeypatch.setattr(kafka_consumer, "BACKOFF_MAX", 1.0)
    caplog.set_level(logging.ERROR, logger="elasticc.brokerpoll")
    topic = unique_name
    make_topic(kafka_bootstrap, topic, partitions=1)
    first = produce(kafka_bootstrap, topic, encode([record(i) for i in range(1, 101)]), partitions=1)
    poller = poller_for(kafka_bootstrap, topic, unique_name, batch_size=30, max_idle=None)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: committed_offsets(kafka_bootstrap, unique_name, topic, 1) == first, 60, "the first 100")
        assert stored_alerts(topic) == list(range(1, 101))

        # The next batch starts with a message the database fails on (for
        # its own reasons, so retrying is right).
        _, fail = database_faults
        trigger = fail(666)
        ends = produce(
            kafka_bootstrap, topic, encode([record(666), *(record(i) for i in range(101, 150))]), partitions=1
        )
        wait_for(lambda: "DiskFull" in caplog.text, 60, "the failing batch")
        wait_for(lambda: caplog.text.count("reconnecting in") >= 2, 60, "a retry from the committed offsets")
        # Nothing of the failed batch (nor of the batches after it) was stored or committed.
        assert stored_alerts(topic) == list(range(1, 101))
        assert committed_offsets(kafka_bootstrap, unique_name, topic, 1) == first

        # The database takes the message again: the retry stores everything exactly once.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {trigger} ON elasticc_brokermessage")
        wait_for(lambda: committed_offsets(kafka_bootstrap, unique_name, topic, 1) == ends, 90, "the retried batch")
    finally:
        poller.stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert stored_alerts(topic) == sorted([*range(1, 150), 666])
    assert poller.counts.loaded == 150
    assert poller.counts.bad == 0


def test_poison_messages_are_skipped_with_their_offsets_and_the_rest_stored(
    kafka_bootstrap, unique_name, database_faults, caplog
):
    # One message validation refuses (its classifier's texts would not fit
    # the unique index) and one the database refuses, among 60 valid ones:
    # the 59 others are stored, each bad one is counted once and logged with
    # its offset, and the offsets move past all of them.
    caplog.set_level(logging.WARNING, logger="elasticc.brokerpoll")
    refuse, _ = database_faults
    constraint = refuse(30)
    topic = unique_name
    make_topic(kafka_bootstrap, topic, partitions=1)
    too_long = record(1000) | {"classifierName": "x" * 3000}
    payloads = encode([record(i) for i in range(1, 61)])
    payloads.insert(10, encode([too_long])[0])
    ends = produce(kafka_bootstrap, topic, payloads, partitions=1)
    poller = poller_for(kafka_bootstrap, topic, unique_name, batch_size=25, max_idle=4.0)
    run_until_idle(poller)

    counts = poller.counts
    assert (counts.messages, counts.loaded, counts.bad) == (59, 59, 2)
    assert stored_alerts(topic) == [i for i in range(1, 61) if i != 30]
    assert committed_offsets(kafka_bootstrap, unique_name, topic, 1) == ends
    assert f"skipped bad message {topic}[0]@10: field classifierName: is 3000 characters long" in caplog.text
    # alertId 30 is at offset 30 (the too-long message is at offset 10).
    assert f"skipped bad message {topic}[0]@30: refused by the database (CheckViolation" in caplog.text
    assert constraint in caplog.text
    assert "reconnecting" not in caplog.text


def test_housekeeping_at_an_idle_exit_but_not_after_a_stop_request(kafka_bootstrap, unique_name):
    """A stop request (SIGTERM, Ctrl-C) ends brokerpoll within seconds: the
    last metrics refresh is left to the next run; an idle exit still does it."""
    source = make_source(
        name="inproc", servers=kafka_bootstrap, topics=[unique_name], schema="v0_9_1", group=unique_name
    )
    calls: list[str] = []
    stop = threading.Event()
    stopper = threading.Timer(1.0, stop.set)
    stopper.start()
    started = time.monotonic()
    kafka_consumer.poll_sources(
        sources=[source],
        options=PollOptions(batch_timeout=0.3, session_timeout_ms=SESSION_TIMEOUT_MS),
        stop=stop,
        housekeeping=lambda: calls.append("stop"),
    )
    assert time.monotonic() - started < 10
    assert calls == []
    kafka_consumer.poll_sources(
        sources=[source],
        options=PollOptions(batch_timeout=0.3, session_timeout_ms=SESSION_TIMEOUT_MS, max_idle=1.0),
        stop=threading.Event(),
        housekeeping=lambda: calls.append("idle"),
    )
    assert calls == ["idle"]
