"""brokerpoll: consume broker classification messages from Kafka into the DB.

One `SourcePoller` per configured source, each in its own thread, all stopped
by one shared event (SIGTERM/SIGINT in the management command).

Why threads (not processes): each source needs its own Kafka consumer and its
own database connection/transaction, which threads give (Django connections
are per thread); librdkafka and psycopg do their waiting with the GIL
released, so sources do not hold each other up; a broker that is down only
stalls its own thread while librdkafka reconnects; and one process means one
signal handler, one exit status and one log. Within a source, a writer
thread stores batch k while the consumer thread decodes batch k+1, so the
Python work (Avro decoding, validation) overlaps the database work on a
second core; all Kafka calls (consume, commit, close) stay in the consumer
thread. A deployment that needs more throughput from one source runs more
brokerpoll processes (or pods) in the same consumer group, which Kafka
balances by partition.

Delivery guarantees: a batch (up to `batch_size` messages or `batch_timeout`
seconds) is decoded, validated and stored in one transaction by
`elasticc.brokers.storage.store_broker_messages`; offsets are committed
synchronously (enable.auto.commit=false) only after that transaction
commits. A crash before the offset commit redelivers the batch, and the
message key (`kafka:<topic>:<partition>:<offset>`) makes the replay insert
nothing, so no message is lost or stored twice. If storing fails the
consumer is closed and reopened from the committed offsets after a backoff
(the in-memory position is past the unstored batch). A message that does not
decode or breaks a rule is logged with topic/partition/offset, counted and
skipped (its offset is committed with the batch), so it never blocks its
partition. So is a valid message the database refuses for its content (a
poison message): `store_isolating_refused` isolates it and stores the rest
of its batch. Bad messages are counted and logged when their batch is
committed, so a batch that is decoded again after a failure counts once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from django.db import connection

from elasticc.avro import codec as avro_codec
from elasticc.brokers.parsing import BrokerMessageError, BrokerMessageIn, MessageOrigin, parse_avro_record
from elasticc.brokers.sources import Source
from elasticc.brokers.storage import StoreResult, store_isolating_refused
from tom_desc.commands.log_limits import KafkaErrorLog, OncePer

logger = logging.getLogger("elasticc.brokerpoll")

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
KAFKA_ERROR_LOG_EVERY = 60.0  # seconds between two log lines of the same Kafka error


@dataclass
class SourceCounts:
    """Running totals of one source (since this process started)."""

    messages: int = 0  # consumed and valid
    loaded: int = 0  # newly stored (the rest were replays)
    classifications: int = 0
    bad: int = 0  # did not decode, broke a rule, or the database refused it
    batches: int = 0
    lag: int | None = None


@dataclass
class PollOptions:
    # Messages per transaction at most. Each transaction has a fixed cost
    # (a commit that waits for the WAL flush, the COPY set-up, an offset
    # commit): 5,000 ran 20-25k messages/s where 1,000 ran 18-19k
    # (bench/kafka_poll.py); a quiet topic still gives small batches, each
    # after at most `batch_timeout`.
    batch_size: int = 5000
    batch_timeout: float = 1.0
    reset: bool = False
    max_idle: float | None = None  # stop after this long without messages
    report_every: float = 60.0
    session_timeout_ms: int = 10000


class _Bad(NamedTuple):
    """A skipped message: where it is and why."""

    topic: str
    partition: int
    offset: int
    why: str


@dataclass
class _Stored:
    """A batch the writer committed to the database."""

    offsets: dict[tuple[str, int], int]
    messages: int  # valid and not refused
    result: StoreResult | None
    bad: list[_Bad]


class _BatchWriter:
    """Stores decoded batches in a thread of its own (with its own database
    connection), so PostgreSQL writes one batch while the consumer thread
    decodes the next: on two cores that overlaps the Python and database
    work. At most one batch waits; after a failure the rest are discarded
    (never stored, never committed) and `error` is set for the consumer."""

    def __init__(self, name: str, *, taxonomy: str | None) -> None:
        self._taxonomy = taxonomy  # the source's choice for the classifiers it registers
        self._todo: queue.Queue[tuple[list[BrokerMessageIn], dict[tuple[str, int], int], list[_Bad]] | None] = (
            queue.Queue(1)
        )
        self._done: queue.Queue[_Stored] = queue.Queue()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=f"brokerpoll-{name}-writer", daemon=True)
        self._thread.start()

    def submit(self, good: list[BrokerMessageIn], offsets: dict[tuple[str, int], int], bad: list[_Bad]) -> None:
        while self.error is None:
            try:
                self._todo.put((good, offsets, bad), timeout=0.5)
                return
            except queue.Full:
                continue
        raise self.error

    def completed(self) -> list[_Stored]:
        stored = []
        while True:
            try:
                stored.append(self._done.get_nowait())
            except queue.Empty:
                return stored

    def finish(self) -> None:
        """Wait for the batches handed over so far, then end the thread."""
        self._todo.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            while (item := self._todo.get()) is not None:
                if self.error is not None:
                    continue
                good, offsets, bad = item
                try:
                    result, refused = (
                        store_isolating_refused(messages=good, taxonomy=self._taxonomy) if good else (None, [])
                    )
                except Exception as exc:
                    self.error = exc
                    continue
                bad = bad + [
                    _Bad(r.message.topicname, r.message.kafkapartition, r.message.streammessageid,
                         f"refused by the database ({r.reason})")
                    for r in refused
                ]  # fmt: skip
                self._done.put(_Stored(offsets, len(good) - len(refused), result, bad))
        finally:
            connection.close()


class SourcePoller:
    """Consumes one source until `stop` is set (or it has been idle for
    `max_idle` seconds), retrying with backoff on any failure."""

    def __init__(self, source: Source, options: PollOptions, stop: threading.Event) -> None:
        self.source = source
        self.options = options
        self.stop = stop
        self.counts = SourceCounts()
        self._reset_done: set[tuple[str, int]] = set()
        # Classifiers reported as evaluated in another taxonomy than the source's.
        self._other_taxonomy_reported: set[int] = set()
        self._last_activity = time.monotonic()
        self._last_report = time.monotonic()
        # A broker that is down is retried (by librdkafka, and by `run` with backoff) for as long
        # as it takes; each distinct error is logged once per KAFKA_ERROR_LOG_EVERY seconds.
        self._on_error = KafkaErrorLog(logger, f"source {source.name}: kafka", KAFKA_ERROR_LOG_EVERY)
        self._librdkafka_logger = logging.getLogger(f"elasticc.brokerpoll.librdkafka.{source.name}")
        self._librdkafka_logger.filters = [f for f in self._librdkafka_logger.filters if not isinstance(f, OncePer)]
        self._librdkafka_logger.addFilter(OncePer(KAFKA_ERROR_LOG_EVERY))

    # -- consumer ----------------------------------------------------------------

    def _consumer_config(self) -> dict[str, object]:
        config: dict[str, object] = {
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.options.session_timeout_ms,
            "topic.metadata.refresh.interval.ms": 10000,
            "reconnect.backoff.ms": 500,
            "reconnect.backoff.max.ms": 10000,
            # librdkafka's own log lines go through Python logging (with
            # timestamps and the source's logger) instead of raw stderr.
            "logger": self._librdkafka_logger,
            "log.connection.close": False,
        }
        config.update(self.source.settings)
        config.update(
            {
                "bootstrap.servers": self.source.servers,
                "group.id": self.source.group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "error_cb": self._on_error,
                "on_commit": self._on_commit,
            }
        )
        return config

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None:
            logger.warning("source %s: offset commit failed (%s); a replay will be skipped", self.source.name, error)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._last_activity = time.monotonic()
        if self.options.reset:
            for tp in partitions:
                if (tp.topic, tp.partition) not in self._reset_done:
                    tp.offset = OFFSET_BEGINNING
                    self._reset_done.add((tp.topic, tp.partition))
        logger.info(
            "source %s: assigned %s",
            self.source.name,
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing",
        )
        consumer.assign(partitions)

    # -- main loop -----------------------------------------------------------------

    def run(self) -> None:
        self.backoff = BACKOFF_START
        try:
            while not self._finished():
                consumer = None
                try:
                    consumer = Consumer(self._consumer_config())
                    consumer.subscribe(list(self.source.topics), on_assign=self._on_assign)
                    logger.info(
                        "source %s: consuming %s from %s (group %s, %s)",
                        self.source.name,
                        ", ".join(self.source.topics),
                        self.source.servers,
                        self.source.group,
                        self.source.schema,
                    )
                    self._consume(consumer)
                except Exception as exc:
                    logger.error(
                        "source %s: %s: %s; reconnecting in %.0f s",
                        self.source.name,
                        type(exc).__name__,
                        exc,
                        self.backoff,
                    )
                    connection.close()  # a broken connection is reopened next time
                    self.stop.wait(self.backoff)
                    self.backoff = min(self.backoff * 2, BACKOFF_MAX)
                finally:
                    if consumer is not None:
                        try:
                            consumer.close()
                        except (KafkaException, RuntimeError) as exc:
                            logger.warning("source %s: closing the consumer: %s", self.source.name, exc)
            self._report(None)
        finally:
            connection.close()

    def _finished(self) -> bool:
        if self.stop.is_set():
            return True
        max_idle = self.options.max_idle
        return max_idle is not None and time.monotonic() - self._last_activity > max_idle

    def _consume(self, consumer: Consumer) -> None:
        """Consume and decode batches and hand them to the writer thread
        (which stores batch k while this thread decodes batch k+1); commit
        the offsets of each batch once the writer reports it committed."""
        writer = _BatchWriter(self.source.name, taxonomy=self.source.taxonomy)
        try:
            while not self._finished():
                self._commit(consumer, writer.completed(), wait=False)
                if writer.error is not None:
                    raise writer.error
                batch = consumer.consume(num_messages=self.options.batch_size, timeout=self.options.batch_timeout)
                if batch:
                    good, offsets, bad = self._decode(batch)
                    if offsets:
                        self._last_activity = time.monotonic()
                        writer.submit(good, offsets, bad)
                self._maybe_report(consumer)
        finally:
            writer.finish()
            self._commit(consumer, writer.completed(), wait=True)
        if writer.error is not None:
            raise writer.error

    def _commit(self, consumer: Consumer, stored: list[_Stored], *, wait: bool) -> None:
        """Count the stored batches and commit their offsets: without waiting
        for Kafka's answer while consuming (the consumer thread then never
        idles on a round trip; two processes in one group went from 27k to
        28-33k messages/s, bench/kafka_poll.py), waiting for it at the end.
        Either way the rows are committed first; a commit that fails only
        means a replay, which stores nothing twice."""
        if not stored:
            return
        offsets: dict[tuple[str, int], int] = {}
        for batch in stored:
            offsets.update(batch.offsets)
            self.counts.batches += 1
            self.counts.messages += batch.messages
            for bad in batch.bad:
                self.counts.bad += 1
                logger.warning(
                    "source %s: skipped bad message %s[%d]@%d: %s",
                    self.source.name, bad.topic, bad.partition, bad.offset, bad.why,
                )  # fmt: skip
            if batch.result is not None:
                self.counts.loaded += batch.result.num_loaded
                self.counts.classifications += batch.result.num_classifications
                for classifier in batch.result.new_classifiers:
                    logger.info("source %s: new classifier %s", self.source.name, classifier)
                self._report_other_taxonomy(batch.result)
        try:
            consumer.commit(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()],
                asynchronous=not wait,
            )
        except KafkaException as exc:
            # The rows are committed; a redelivery of these batches would
            # insert nothing, and the next commit moves the offsets past them.
            logger.warning("source %s: offset commit failed (%s); a replay will be skipped", self.source.name, exc)
        self.backoff = BACKOFF_START

    def _report_other_taxonomy(self, result: StoreResult) -> None:
        """Say once per classifier that it keeps a taxonomy other than the
        source's `taxonomy:` (which applies when a classifier is registered),
        and how an admin changes it."""
        for classifier, evaluated in result.other_taxonomy:
            if classifier.classifierid in self._other_taxonomy_reported:
                continue
            self._other_taxonomy_reported.add(classifier.classifierid)
            logger.warning(
                "source %s: classifier %s is evaluated in %s, not in the source's taxonomy %s: a classifier keeps "
                "the taxonomy it got when first registered or from an admin; "
                "'manage.py set_classifier_taxonomy %d %s' changes it (and rebuilds its metrics)",
                self.source.name, classifier, evaluated, self.source.taxonomy,
                classifier.classifierid, self.source.taxonomy,
            )  # fmt: skip

    def _decode(self, batch: list[Message]) -> tuple[list[BrokerMessageIn], dict[tuple[str, int], int], list[_Bad]]:
        good: list[BrokerMessageIn] = []
        offsets: dict[tuple[str, int], int] = {}
        bad: list[_Bad] = []
        schema = self.source.schema
        for msg in batch:
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self._on_error(error)
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            offsets[(topic, partition)] = offset + 1
            ts_type, ts_ms = msg.timestamp()
            origin = MessageOrigin(topic, partition, offset, None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts_ms)
            try:
                value = msg.value()
                if value is None:
                    raise ValueError("empty message")
                record = avro_codec.decode(value, "brokerClassification", schema, logical_types=False)
            except Exception as exc:  # any decoder failure means "not a valid message"
                why = f"does not decode as {schema} brokerClassification ({exc!r:.120})"
                bad.append(_Bad(topic, partition, offset, why))
                continue
            try:
                good.append(parse_avro_record(record, schema_version=schema, origin=origin))
            except BrokerMessageError as exc:
                bad.append(_Bad(topic, partition, offset, f"field {exc.field}: {exc.problem:.200}"))
        return good, offsets, bad

    # -- reporting -----------------------------------------------------------------

    def _maybe_report(self, consumer: Consumer) -> None:
        if time.monotonic() - self._last_report >= self.options.report_every:
            self._report(consumer)

    def _report(self, consumer: Consumer | None) -> None:
        self._last_report = time.monotonic()
        if consumer is not None:
            self.counts.lag = _lag(consumer)
        c = self.counts
        logger.info(
            "source %s: %d messages (%d new), %d classifications, %d bad, lag %s",
            self.source.name,
            c.messages,
            c.loaded,
            c.classifications,
            c.bad,
            "unknown" if c.lag is None else c.lag,
        )


def _lag(consumer: Consumer) -> int | None:
    """Messages behind the high watermarks of the assigned partitions, from
    the watermarks the fetch responses carry (no extra broker request)."""
    try:
        assigned = consumer.assignment()
        if not assigned:
            return None
        total = 0
        for tp in consumer.position(assigned):
            low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high < 0:
                continue
            total += max(high - (tp.offset if tp.offset >= 0 else max(low, 0)), 0)
        return total
    except KafkaException:
        return None


def poll_sources(
    *,
    sources: list[Source],
    options: PollOptions,
    stop: threading.Event,
    housekeeping: Callable[[], None] | None = None,
    housekeeping_every: float = 60.0,
) -> list[SourceCounts]:
    """Run one poller thread per source until `stop` is set (or all are idle
    past `options.max_idle`); meanwhile call `housekeeping` (the command passes the metrics refresh,
    which also compacts row counts) about every `housekeeping_every` seconds,
    and once more at an idle exit; not after a stop request, which must end
    the process within seconds (the refresh is incremental: the next run, or
    `refresh_elasticc_metrics`, folds in what this one stored). Returns the counts."""
    pollers = [SourcePoller(source, options, stop) for source in sources]
    threads = [threading.Thread(target=p.run, name=f"brokerpoll-{p.source.name}", daemon=True) for p in pollers]
    for thread in threads:
        thread.start()
    last = time.monotonic()
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=0.5)
        if housekeeping is not None and time.monotonic() - last >= housekeeping_every:
            last = time.monotonic()
            try:
                housekeeping()
            except Exception as exc:
                logger.warning("housekeeping failed: %s", exc)
    if housekeeping is not None and not stop.is_set():
        try:
            housekeeping()
        except Exception as exc:
            logger.warning("housekeeping failed: %s", exc)
    return [p.counts for p in pollers]
