"""Stream ELAsTiCC alerts to Kafka (the logic of `send_elasticc_alerts`).

Why it is shaped this way:
- Exactly-once bookkeeping: an alert's `alertsenttimestamp` is written only
  after the producer's delivery report confirms it, and it is the Kafka
  timestamp of that message (so broker delays computed from the broker
  messages' `elasticcPublishTimestamp` line up exactly). A crash, SIGTERM or
  broker outage leaves every unconfirmed alert unsent, and a rerun picks up
  exactly those.
- Alerts are selected in simulated-time order, a batch at a time, by keyset
  (midPointTai, alertId) rather than "unsent" alone, so alerts produced but
  not yet confirmed are never selected twice within a run.
- Each batch is built with a constant number of queries and encoded straight
  from the rows (`alert_builder.build_alert_payloads`) in builder threads,
  so the database works on the next batches while this one is produced;
  confirmations are recorded with one bulk UPDATE per batch, in a third
  thread.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Producer
from django.db import connection
from tqdm import tqdm

from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION
from elasticc.followup.services import keep_latest_magnitudes
from elasticc.postgres.array_literals import number_array
from elasticc.stream.alert_builder import build_alert_payloads
from elasticc.stream.kafka_errors import log_kafka_error

logger = logging.getLogger(__name__)


class SendError(RuntimeError):
    """The run stopped because Kafka did not confirm some alerts."""


@dataclass
class PendingSummary:
    """What a run through `through_day` would send."""

    through_day: float
    count: int
    ddf_count: int
    first_mjd: float | None
    last_mjd: float | None


@dataclass
class SendResult:
    produced: int = 0
    confirmed: int = 0
    confirmed_ddf: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.confirmed / self.seconds if self.seconds > 0 else 0.0


_NEXT_BATCH_SQL = (
    "SELECT a.alertid, s.midpointtai, o.isddf "
    "FROM elasticc_diasource s "
    "JOIN elasticc_diaalert a ON a.diasourceid = s.diasourceid "
    "JOIN elasticc_diaobject o ON o.diaobjectid = a.diaobjectid "
    "WHERE a.alertsenttimestamp IS NULL AND s.midpointtai <= %(through)s "
    "  AND s.midpointtai >= %(last_t)s AND (s.midpointtai, a.alertid) > (%(last_t)s, %(last_id)s) "
    "ORDER BY s.midpointtai, a.alertid LIMIT %(n)s"
)


def through_day_for(*, through_day: float | None = None, added_days: float | None = None) -> float:
    """The simulated date (MJD, inclusive) to send through.

    `added_days` N continues from the midPointTai of the last alert sent (or
    from one day before the first alert, before anything was sent) through
    the end of a whole night, as the original command did:
    `floor(start + 0.5) + N + 0.5`, so a daily cron run with N = 1 sends one
    simulated night per run.
    """
    if (through_day is None) == (added_days is None):
        raise ValueError("give exactly one of --through-day and --added-days")
    if through_day is not None:
        return float(through_day)
    with connection.cursor() as cursor:
        # Both walk the midPointTai index from one end and stop at the first hit.
        cursor.execute(
            "SELECT s.midpointtai FROM elasticc_diasource s "
            "JOIN elasticc_diaalert a ON a.diasourceid = s.diasourceid "
            "WHERE a.alertsenttimestamp IS NOT NULL ORDER BY s.midpointtai DESC LIMIT 1"
        )
        row = cursor.fetchone()
        if row is not None:
            start = float(row[0])
        else:
            cursor.execute(
                "SELECT s.midpointtai FROM elasticc_diasource s "
                "JOIN elasticc_diaalert a ON a.diasourceid = s.diasourceid ORDER BY s.midpointtai LIMIT 1"
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError("there are no alerts in the database")
            start = float(row[0]) - 1.0
    return math.floor(start + 0.5) + float(added_days) + 0.5


def pending_summary(*, through_day: float) -> PendingSummary:
    """Count the unsent alerts through `through_day` (dry run and progress)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE o.isddf), min(s.midpointtai), max(s.midpointtai) "
            "FROM elasticc_diaalert a "
            "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "JOIN elasticc_diaobject o ON o.diaobjectid = a.diaobjectid "
            "WHERE a.alertsenttimestamp IS NULL AND s.midpointtai <= %s",
            [through_day],
        )
        count, ddf, first, last = cursor.fetchone()
    return PendingSummary(through_day, int(count), int(ddf), first, last)


def record_sent(confirmed: list[tuple[int, int]]) -> int:
    """Set `alertsenttimestamp` (the Kafka timestamp, ms) of confirmed alerts
    in one statement; alerts already marked keep their first timestamp."""
    if not confirmed:
        return 0
    ids = [c[0] for c in confirmed]
    stamps = [c[1] for c in confirmed]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE elasticc_diaalert a SET alertsenttimestamp = to_timestamp(u.ms / 1000.0) "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS u(alertid, ms) "
            "WHERE a.alertid = u.alertid AND a.alertsenttimestamp IS NULL RETURNING a.diaobjectid",
            [number_array(ids), number_array(stamps)],
        )
        objectids = [row[0] for row in cursor.fetchall()]
    # The horizons of these objects moved: what spectrawanted shows of them too.
    keep_latest_magnitudes(objectids=objectids, wanted_only=True)
    return len(objectids)


class _Deliveries:
    """Collects delivery reports (called from `Producer.poll`/`flush`). An
    alert sent to several topics (deep-drilling alerts, full and limited) is
    confirmed once every copy is, with the earliest Kafka timestamp."""

    def __init__(self, ddf_ids: set[int]):
        self.ddf_ids = ddf_ids
        self.confirmed: list[tuple[int, int]] = []
        self.failed = 0
        self.errors: list[str] = []
        # alertid -> [copies not yet confirmed, earliest timestamp so far]
        self.copies: dict[int, list[int]] = {}

    def expect_copies(self, alertid: int, n: int) -> None:
        self.copies[alertid] = [n, 2**63 - 1]

    def __call__(self, err: KafkaError | None, msg) -> None:
        if err is not None:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(str(err))
            return
        ts_type, ts = msg.timestamp()
        alertid, stamp = int(msg.key()), ts if ts_type and ts > 0 else int(time.time() * 1000)
        pending = self.copies.get(alertid)
        if pending is not None:
            pending[0] -= 1
            pending[1] = min(pending[1], stamp)
            if pending[0] > 0:
                return
            del self.copies[alertid]
            stamp = pending[1]
        self.confirmed.append((alertid, stamp))

    def take(self) -> list[tuple[int, int]]:
        out, self.confirmed = self.confirmed, []
        return out


@dataclass(frozen=True)
class SendOptions:
    """What `send_alerts` sends and how: every unsent alert with midPointTai
    <= `through_day` (at most `limit`), oldest first. Wide-fast-deep alerts go
    to `topic`. Alerts of deep-drilling objects go to `ddf_full_topic` (else
    `topic`) with the full history, and also, when `ddf_limited_topic` is
    given, there with only `ddf_limited_history_days` of history, as ELAsTiCC
    streamed them."""

    through_day: float
    kafka_server: str
    topic: str
    ddf_full_topic: str | None = None
    ddf_limited_topic: str | None = None
    schema_version: str = DEFAULT_SCHEMA_VERSION
    limit: int | None = None
    batch_size: int = 5000
    flush_every: int = 50000
    history_days: float = 365.0
    ddf_limited_history_days: float = 30.0
    delivery_timeout: float = 60.0
    builders: int = 2
    producer_config: dict | None = None
    progress: bool = True


def send_alerts(
    *,
    options: SendOptions,
    stop: threading.Event | None = None,
    on_batch: Callable[[SendResult], None] | None = None,
) -> SendResult:
    """Send the alerts `options` selects. Returns the counts; sets
    `alertsenttimestamp` only for confirmed deliveries. `stop` (set by a
    signal handler) ends the run early after flushing what was produced.
    Raises SendError when deliveries failed (the failed alerts stay unsent)."""
    stop = stop or threading.Event()
    config = {
        "bootstrap.servers": options.kafka_server,
        "enable.idempotence": True,
        "linger.ms": 20,
        "message.timeout.ms": int(options.delivery_timeout * 1000),
        "queue.buffering.max.messages": max(2 * options.batch_size, 100_000),
        "error_cb": log_kafka_error,
    }
    config.update(options.producer_config or {})
    producer = Producer(config)
    result = SendResult()
    total = pending_summary(through_day=options.through_day).count
    if options.limit is not None:
        total = min(total, options.limit)
    deliveries = _Deliveries(set())
    since_flush = 0
    start = time.monotonic()
    bar = tqdm(total=total, unit="alert", disable=not options.progress or None, smoothing=0.1)
    batches = _Pipeline(
        through_day=options.through_day,
        total=total,
        batch_size=options.batch_size,
        schema_version=options.schema_version,
        history_days=options.history_days,
        limited_history_days=options.ddf_limited_history_days if options.ddf_limited_topic else None,
        builders=options.builders,
    )
    batches.start()
    recorder = _Recorder()
    recorder.start()
    try:
        while not stop.is_set() and deliveries.failed == 0:
            item = batches.next()
            if item is None:
                break
            ddf_ids, payloads, limited = item
            deliveries.ddf_ids.update(ddf_ids)
            produced_before = result.produced
            for alertid, payload in payloads:
                key = str(alertid).encode()
                if alertid not in ddf_ids:
                    _produce(producer, options.topic, key, payload, deliveries)
                elif options.ddf_limited_topic:
                    deliveries.expect_copies(alertid, 2)
                    _produce(producer, options.ddf_full_topic or options.topic, key, payload, deliveries)
                    _produce(producer, options.ddf_limited_topic, key, limited[alertid], deliveries)
                else:
                    _produce(producer, options.ddf_full_topic or options.topic, key, payload, deliveries)
                result.produced += 1
                if stop.is_set():
                    break
            since_flush += result.produced - produced_before
            if since_flush >= options.flush_every:
                producer.flush(options.delivery_timeout)
                since_flush = 0
            else:
                producer.poll(0)
            _record(deliveries, result, recorder)
            bar.update(result.produced - produced_before)
            if on_batch:
                on_batch(result)
    finally:
        batches.stop()
        remaining = producer.flush(options.delivery_timeout)
        _record(deliveries, result, recorder)
        recorder.finish()
        bar.close()
        result.seconds = time.monotonic() - start
        result.interrupted = stop.is_set()
        result.failed = deliveries.failed + remaining
        result.errors = deliveries.errors
    if result.failed:
        raise SendError(
            f"{result.failed} alert(s) not confirmed by Kafka ({'; '.join(result.errors) or 'flush timed out'}); "
            f"{result.confirmed} recorded as sent; rerun to send the rest"
        )
    return result


def _put(q: queue.Queue, item, halt: threading.Event) -> None:
    """Put, unless `halt` is set first (then the item is dropped)."""
    while not halt.is_set():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, halt: threading.Event, alive: Callable[[], bool]):
    """Get; None once `halt` is set or the writer thread died with nothing queued."""
    while not halt.is_set():
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            if not alive() and q.empty():
                return None
    return None


class _Builder(threading.Thread):
    """Builds the batches handed to it, in order, on its own DB connection."""

    def __init__(
        self,
        index: int,
        schema_version: str,
        history_days: float,
        limited_history_days: float | None,
        halt: threading.Event,
    ):
        super().__init__(name=f"alert-builder-{index}", daemon=True)
        self.schema_version, self.history_days, self.halt = schema_version, history_days, halt
        self.limited_history_days = limited_history_days
        self.inbox: queue.Queue = queue.Queue(maxsize=1)
        self.outbox: queue.Queue = queue.Queue(maxsize=1)

    def run(self) -> None:
        try:
            while (selected := _get(self.inbox, self.halt, lambda: True)) is not None:
                if isinstance(selected, BaseException):
                    _put(self.outbox, selected, self.halt)
                    return
                ddf_ids = {alertid for alertid, _, isddf in selected if isddf}
                try:
                    payloads = build_alert_payloads(
                        alert_ids=[row[0] for row in selected],
                        schema_version=self.schema_version,
                        history_days=self.history_days,
                    )
                    limited = {}
                    if ddf_ids and self.limited_history_days is not None:
                        limited = dict(
                            build_alert_payloads(
                                alert_ids=sorted(ddf_ids),
                                schema_version=self.schema_version,
                                history_days=self.limited_history_days,
                            )
                        )
                except BaseException as exc:  # handed to the consumer, which re-raises
                    _put(self.outbox, exc, self.halt)
                    return
                _put(self.outbox, (ddf_ids, payloads, limited), self.halt)
            _put(self.outbox, None, self.halt)
        finally:
            connection.close()


class _Pipeline(threading.Thread):
    """Selects batches and has `builders` threads build them while the caller
    produces earlier ones, so PostgreSQL's work overlaps the encoding and
    Kafka (psycopg releases the GIL while it waits for the server). Batches
    come out of `next()` in selection order (round robin over the builders).
    Every thread uses its own database connection (Django's are per thread)
    and closes it.

    Selection is by keyset (midPointTai, alertId), never by "unsent" alone,
    so alerts produced but not yet confirmed are not selected again.
    """

    def __init__(
        self,
        *,
        through_day,
        total,
        batch_size,
        schema_version,
        history_days,
        limited_history_days: float | None = None,
        builders: int = 2,
    ):
        super().__init__(name="alert-selector", daemon=True)
        self.args = (through_day, total, batch_size)
        self.halt = threading.Event()
        self.builders = [
            _Builder(i, schema_version, history_days, limited_history_days, self.halt) for i in range(builders)
        ]
        self.taken = 0

    def start(self) -> None:
        for builder in self.builders:
            builder.start()
        super().start()

    def run(self) -> None:
        through_day, total, batch_size = self.args
        last_t, last_id, selected_total, i = -math.inf, -(2**63), 0, 0
        n_builders = len(self.builders)
        try:
            while not self.halt.is_set() and selected_total < total:
                n = min(batch_size, total - selected_total)
                with connection.cursor() as cursor:
                    cursor.execute(
                        _NEXT_BATCH_SQL, {"through": through_day, "last_t": last_t, "last_id": last_id, "n": n}
                    )
                    selected = cursor.fetchall()
                if not selected:
                    break
                selected_total += len(selected)
                last_id, last_t = selected[-1][0], selected[-1][1]
                _put(self.builders[i % n_builders].inbox, selected, self.halt)
                i += 1
        except BaseException as exc:
            _put(self.builders[i % n_builders].inbox, exc, self.halt)
            i += 1
        finally:
            # End marks, starting with the builder whose turn is next.
            for k in range(n_builders):
                _put(self.builders[(i + k) % n_builders].inbox, None, self.halt)
            connection.close()

    def next(self):
        """The next (ddf alert ids, payloads, limited-history payloads of the ddf alerts), or None at the end."""
        builder = self.builders[self.taken % len(self.builders)]
        item = _get(builder.outbox, self.halt, builder.is_alive)
        self.taken += 1
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        self.halt.set()
        self.join()
        for builder in self.builders:
            builder.join()


def _produce(producer: Producer, topic: str, key: bytes, payload: bytes, deliveries: _Deliveries) -> None:
    while True:
        try:
            producer.produce(topic, payload, key=key, on_delivery=deliveries)
            return
        except BufferError:
            # Local queue full: serve delivery reports until there is room.
            producer.poll(0.1)


class _Recorder(threading.Thread):
    """Writes confirmed deliveries to `alertsenttimestamp` off the produce
    loop (an UPDATE of a batch touches every index of elasticc_diaalert and
    takes as long as building the batch). `finish` waits until everything
    handed over is written and re-raises a database error, if any."""

    def __init__(self):
        super().__init__(name="alert-sent-recorder", daemon=True)
        self.queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None

    def submit(self, confirmed: list[tuple[int, int]]) -> None:
        if confirmed:
            self.queue.put(confirmed)

    def run(self) -> None:
        try:
            while (confirmed := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        record_sent(confirmed)
                    except BaseException as exc:  # re-raised by finish()
                        self.error = exc
        finally:
            connection.close()

    def finish(self) -> None:
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _record(deliveries: _Deliveries, result: SendResult, recorder: _Recorder) -> None:
    confirmed = deliveries.take()
    recorder.submit(confirmed)
    result.confirmed += len(confirmed)
    ddf = [alertid for alertid, _ in confirmed if alertid in deliveries.ddf_ids]
    result.confirmed_ddf += len(ddf)
    deliveries.ddf_ids.difference_update(ddf)  # keep the set to alerts in flight
