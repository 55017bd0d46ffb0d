"""Benchmark: brokerpoll end to end vs a straightforward Django-ORM storage path.

    .venv/bin/python bench/kafka_poll.py [--messages 100000] [--db bench_ingest]
                                         [--orm-messages 20000] [--store-probe]
                                         [--partitions 6] [--processes 1,2]

1. Fills a fresh topic with N v0_9_1 brokerClassification messages (7
   classifications each, as RandomSNType sends).
2. brokerpoll: runs `manage.py brokerpoll` as a subprocess on that topic and
   times it from its start (and from its first committed batch) until all N
   messages are committed rows, watching the trigger-kept row count; then
   the same with each count of `--processes` brokerpoll processes in one
   consumer group sharing the topic's `--partitions` (Kafka's own scale-out).
3. ORM: consumes the same topic (another group) in batches of 1,000 and
   stores each batch the way the original TOM did, in one transaction, then
   commits the offsets: classifier `get_or_create` (cached), messages with
   `bulk_create`, classifications with `bulk_create`. Same decoding.
4. `--store-probe` also times the storage step alone (pre-decoded batches)
   for the production path and the alternatives considered in
   elasticc/brokers/storage.py (one statement inserting the classifications
   from arrays, as array literals or binary-adapted arrays).

Targets (2-core machine): brokerpoll >= 20,000 messages/s and >= 10x the ORM
path. The database (default `bench_ingest`, created and migrated if absent)
is emptied of broker rows before each run; never point it at production.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench_db import setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
CLASSES = (111, 112, 113, 114, 115, 135, 131)


def records(n: int, start: int = 0) -> list[dict]:
    now = int(time.time() * 1000)
    p = 1 / len(CLASSES)
    return [
        {
            "alertId": i,
            "diaSourceId": i * 10,
            "elasticcPublishTimestamp": now - 2000,
            "brokerIngestTimestamp": now - 1000,
            "brokerName": "BenchBroker",
            "brokerVersion": "v1.0",
            "classifierName": "RandomSNType",
            "classifierParams": "Perfect",
            "classifications": [{"classId": c, "probability": p} for c in CLASSES],
        }
        for i in range(start, start + n)
    ]


def fill_topic(bootstrap: str, topic: str, n: int, partitions: int) -> float:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from elasticc.avro import codec as avro_codec

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.num.messages": 10000})
    started = time.perf_counter()
    for chunk in range(0, n, 10000):
        for payload in avro_codec.encode_many(records(min(10000, n - chunk), chunk), "brokerClassification", "v0_9_1"):
            while True:
                try:
                    producer.produce(topic, payload)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise SystemExit("could not deliver every message to Kafka")
    return time.perf_counter() - started


def empty_broker_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE elasticc_brokermessage, elasticc_brokerclassification")
        cursor.execute("SELECT elasticc_compact_rowcounts()")


def stored_messages() -> int:
    from elasticc.read.counts import row_count

    return row_count("elasticc_brokermessage")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(exclude_self: bool = True) -> list[int]:
    """PostgreSQL server processes serving the benchmark database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            if exclude_self
            else "SELECT pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def run_brokerpoll(bootstrap: str, topic: str, n: int, processes: int = 1, batch_size: int = 5000) -> dict[str, float]:
    """`processes` brokerpoll processes in one fresh consumer group until all
    `n` messages are rows; steady state is timed from the first stored row."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "LOG_LEVEL": "INFO"}
    group = f"bench-{uuid.uuid4().hex[:8]}"
    logs = [BASE_DIR / "var" / f"bench_kafka_poll_{i}.log" for i in range(processes)]
    logs[0].parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    command = [sys.executable, "manage.py", "brokerpoll", "--config", "", "--topic", topic, "--group", group,
               "--session-timeout-ms", "6000", "--max-idle", "5", "--report-every", "10",
               "--batch-size", str(batch_size)]  # fmt: skip
    running = []
    for log in logs:
        with open(log, "w") as out:
            running.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        first = None
        while True:
            count = stored_messages()
            now = time.perf_counter()
            if count and first is None:
                # CPU from here on is steady-state work (startup and the
                # consumer-group join excluded).
                first = (
                    now,
                    count,
                    sum(cpu_seconds(p.pid) for p in running),
                    sum(cpu_seconds(pid) for pid in backend_pids()),
                )
            if count >= n:
                break
            for process, log in zip(running, logs, strict=True):
                if process.poll() is not None:
                    raise SystemExit(f"brokerpoll exited early ({process.returncode}); see {log}")
            time.sleep(0.1)
        done = time.perf_counter()
        # CPU used: the brokerpoll processes and the PostgreSQL backends
        # serving them (a load-independent measure on a shared machine).
        python_cpu = sum(cpu_seconds(p.pid) for p in running) - first[2]
        pg_cpu = sum(cpu_seconds(pid) for pid in backend_pids()) - first[3]
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(30)
    return {
        "total_s": done - started,
        "steady_s": done - first[0],
        "steady_msgs": n - first[1],
        "python_cpu_s": python_cpu,
        "pg_cpu_s": pg_cpu,
    }


def run_orm(bootstrap: str, topic: str, n: int) -> dict[str, float]:
    """The original TOM's storage style: ORM objects, bulk_create per batch."""
    from confluent_kafka import Consumer, TopicPartition
    from django.db import transaction

    from elasticc.avro import codec as avro_codec
    from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-orm-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    classifiers: dict[tuple[str, str, str, str], BrokerClassifier] = {}
    done_count = 0
    first = None
    (backend,) = backend_pids(exclude_self=False)
    python_cpu, pg_cpu = time.process_time(), cpu_seconds(backend)
    while done_count < n:
        batch = consumer.consume(num_messages=1000, timeout=1.0)
        batch = [m for m in batch if m.error() is None]
        if not batch:
            continue
        if first is None:
            first = time.perf_counter()
        with transaction.atomic():
            messages, classifications = [], []
            for msg in batch:
                rec = avro_codec.decode(msg.value(), "brokerClassification", "v0_9_1")
                key = (rec["brokerName"], rec["brokerVersion"], rec["classifierName"], rec["classifierParams"])
                if key not in classifiers:
                    classifiers[key], _ = BrokerClassifier.objects.get_or_create(
                        brokername=key[0], brokerversion=key[1], classifiername=key[2], classifierparams=key[3]
                    )
                _, ts = msg.timestamp()
                messages.append(
                    (
                        BrokerMessage(
                            messagekey=f"orm:{msg.topic()}:{msg.partition()}:{msg.offset()}",
                            streammessageid=msg.offset(),
                            topicname=msg.topic(),
                            kafkapartition=msg.partition(),
                            alertid=rec["alertId"],
                            diasourceid=rec["diaSourceId"],
                            msghdrtimestamp=time_of(ts),
                            elasticcpublishtimestamp=rec["elasticcPublishTimestamp"],
                            brokeringesttimestamp=rec["brokerIngestTimestamp"],
                        ),
                        classifiers[key],
                        rec["classifications"],
                    )
                )
            BrokerMessage.objects.bulk_create([m for m, _, _ in messages])
            for message, classifier, items in messages:
                for item in items:
                    classifications.append(
                        BrokerClassification(
                            brokermessage=message,
                            classifier=classifier,
                            classid=item["classId"],
                            probability=item["probability"],
                        )
                    )
            BrokerClassification.objects.bulk_create(classifications)
        last = batch[-1]
        consumer.commit(offsets=[TopicPartition(last.topic(), last.partition(), last.offset() + 1)], asynchronous=False)
        done_count += len(batch)
    elapsed = time.perf_counter() - first
    python_cpu, pg_cpu = time.process_time() - python_cpu, cpu_seconds(backend) - pg_cpu
    consumer.close()
    return {"steady_s": elapsed, "steady_msgs": n, "python_cpu_s": python_cpu, "pg_cpu_s": pg_cpu}


def time_of(ms: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC)


def store_probe(n: int) -> dict[str, tuple[float, float, float]]:
    """The storage step alone on pre-decoded batches: production vs the
    alternatives considered (the classifications inserted by a second CTE of
    the message statement, from array literals or binary-adapted arrays)."""
    import psycopg
    from django.db import connection, transaction

    from elasticc.avro import codec as avro_codec
    from elasticc.brokers.parsing import MessageOrigin, parse_avro_record
    from elasticc.brokers.storage import _register_classifiers, store_broker_messages
    from elasticc.postgres.array_literals import number_array, text_array

    payloads = avro_codec.encode_many(records(n), "brokerClassification", "v0_9_1")

    def batches(tag: str):
        parsed = [
            parse_avro_record(
                avro_codec.decode(p, "brokerClassification", "v0_9_1"),
                schema_version="v0_9_1",
                origin=MessageOrigin(tag, 0, i, 0),
            )
            for i, p in enumerate(payloads)
        ]
        return [parsed[i : i + 1000] for i in range(0, n, 1000)]

    # The message columns in the order of the statement's unnest (text or integer).
    message_fields = (
        ("messagekey", True), ("streammessageid", False), ("topicname", True), ("kafkapartition", False),
        ("alertid", False), ("diasourceid", False), ("msghdr_ms", False), ("elasticcpublish_ms", False),
        ("brokeringest_ms", False),
    )  # fmt: skip

    def message_arrays(batch, text_array, int_array):
        return [
            (text_array if is_text else int_array)([getattr(m, name) for m in batch])
            for name, is_text in message_fields
        ]

    def one_statement_sql(p: str) -> str:
        return f"""
        WITH input AS (
            SELECT * FROM unnest({p}::text[], {p}::bigint[], {p}::text[], {p}::int[], {p}::bigint[], {p}::bigint[],
                                 {p}::bigint[], {p}::bigint[], {p}::bigint[])
                WITH ORDINALITY AS u(k, o, t, pt, a, d, h, e, b, n)
        ), ins AS (
            INSERT INTO elasticc_brokermessage (messagekey, streammessageid, topicname, kafkapartition, alertid,
                diasourceid, msghdrtimestamp, elasticcpublishtimestamp, brokeringesttimestamp)
            SELECT k, o, t, pt, a, d, 'epoch'::timestamptz + h * interval '1 millisecond',
                   'epoch'::timestamptz + e * interval '1 millisecond',
                   'epoch'::timestamptz + b * interval '1 millisecond'
            FROM input ORDER BY n
            ON CONFLICT (messagekey) DO NOTHING RETURNING brokermessageid, messagekey
        ), cls AS (
            INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability)
            SELECT ins.brokermessageid, c.cid, c.classid, c.p
            FROM ins JOIN input ON input.k = ins.messagekey
            JOIN unnest({p}::int[], {p}::int[], {p}::int[], {p}::real[]) AS c(n, cid, classid, p) ON c.n = input.n
            RETURNING 1
        ) SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM cls)
        """

    def one_statement(batch, placeholder, text_array, int_array, float_array):
        with transaction.atomic(), psycopg.Cursor(connection.connection) as cur:
            ids = _register_classifiers(cur, set().union(*(m.classifiers for m in batch)), None)[0]
            cls = [
                (n, ids[k], c, p)
                for n, m in enumerate(batch, 1)
                for k, c, p in zip(m.classifiers, m.classids, m.probabilities, strict=True)
            ]
            ccols = list(zip(*cls, strict=True))
            cur.execute(
                one_statement_sql(placeholder),
                [*message_arrays(batch, text_array, int_array), int_array(ccols[0]), int_array(ccols[1]),
                 int_array(ccols[2]), float_array(ccols[3])],
            )  # fmt: skip

    variants = (
        ("production (arrays + binary COPY)", lambda b: store_broker_messages(messages=b)),
        (
            "one statement, array literals",
            lambda b: one_statement(b, "%s", text_array, number_array, number_array),
        ),
        ("one statement, binary-adapted arrays", lambda b: one_statement(b, "%b", list, list, list)),
    )
    # Interleaved rounds, best of each: the machine is shared, so a single
    # run per variant mostly measures the neighbours. CPU time (ours and our
    # PostgreSQL backend's) is the steadier figure.
    (backend,) = backend_pids(exclude_self=False)
    results: dict[str, tuple[float, float, float]] = {}
    for _round in range(3):
        for label, store in variants:
            prepared = batches(label[:10] + uuid.uuid4().hex[:6])
            empty_broker_tables()
            started, py0, pg0 = time.perf_counter(), time.process_time(), cpu_seconds(backend)
            for batch in prepared:
                store(batch)
            rate = n / (time.perf_counter() - started)
            py_us, pg_us = 1e6 * (time.process_time() - py0) / n, 1e6 * (cpu_seconds(backend) - pg0) / n
            best = results.get(label, (0.0, math.inf, math.inf))
            results[label] = (max(best[0], rate), min(best[1], py_us), min(best[2], pg_us))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--orm-messages", type=int, default=None, help="default: same as --messages")
    parser.add_argument("--db", default="bench_ingest")
    parser.add_argument("--bootstrap", default=None, help="default: settings.KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--store-probe", action="store_true")
    parser.add_argument("--probe-only", action="store_true", help="with --store-probe: stop after it")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the benchmark topic")
    parser.add_argument("--batch-size", type=int, default=5000, help="brokerpoll --batch-size (per transaction)")
    parser.add_argument(
        "--processes", default="1,2", help="brokerpoll process counts to run in one consumer group, e.g. 1,2"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.processes.split(",")]
    if not counts or min(counts) < 1 or max(counts) > args.partitions:
        parser.error("--processes: counts from 1 to --partitions")
    setup_django(args.db)
    from django.conf import settings

    bootstrap = args.bootstrap or settings.KAFKA_BOOTSTRAP_SERVERS
    n = args.messages
    n_orm = args.orm_messages or n
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    if args.store_probe:
        for label, (rate, py_us, pg_us) in store_probe(min(n, 10_000)).items():
            print(f"store only, {label}: {rate:,.0f} messages/s; CPU {py_us:.1f} us Python + {pg_us:.1f} us PostgreSQL")
        if args.probe_only:
            return

    topic = f"bench-kafka-poll-{uuid.uuid4().hex[:8]}"
    produce_s = fill_topic(bootstrap, topic, max(n, n_orm), args.partitions)
    print(f"filled {topic} ({args.partitions} partitions) with {max(n, n_orm):,} messages in {produce_s:.1f} s")

    rates = {}
    for processes in counts:
        empty_broker_tables()
        run = run_brokerpoll(bootstrap, topic, n, processes, args.batch_size)
        rates[processes] = run["steady_msgs"] / run["steady_s"]
        print(
            f"brokerpoll x{processes}: {n:,} messages in {run['total_s']:.1f} s from process start "
            f"({n / run['total_s']:,.0f} msg/s incl. startup and group join); steady state "
            f"{rates[processes]:,.0f} messages/s = {rates[processes] * len(CLASSES):,.0f} classifications/s "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
        if processes == counts[0]:
            poll, poll_rate = run, rates[processes]
    if len(rates) > 1:
        print("scale-out: " + ", ".join(f"{p} process(es) {r:,.0f} msg/s" for p, r in rates.items()))

    empty_broker_tables()
    orm = run_orm(bootstrap, topic, n_orm)
    orm_rate = orm["steady_msgs"] / orm["steady_s"]
    print(
        f"ORM path:   {n_orm:,} messages in {orm['steady_s']:.1f} s: {orm_rate:,.0f} messages/s = "
        f"{orm_rate * len(CLASSES):,.0f} classifications/s"
    )
    for label, run in ((f"brokerpoll x{counts[0]}", poll), ("ORM path", orm)):
        py_us = 1e6 * run["python_cpu_s"] / run["steady_msgs"]
        pg_us = 1e6 * run["pg_cpu_s"] / run["steady_msgs"]
        print(
            f"{label} CPU per message: {py_us:.0f} us Python + {pg_us:.0f} us PostgreSQL; on two idle cores "
            f"that allows ~{1e6 / max(py_us, pg_us, (py_us + pg_us) / 2):,.0f} messages/s"
        )
    print(
        f"brokerpoll x{counts[0]} / ORM = {poll_rate / orm_rate:.1f}x (target >= 10x); brokerpoll "
        f"{'meets' if poll_rate >= 20_000 else 'misses'} the 20,000 messages/s target"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    empty_broker_tables()


if __name__ == "__main__":
    main()
