"""Benchmark: the whole schema at a campaign's size, and what ELAsTiCC2's would take.

    .venv/bin/python bench/scale.py --scale 0.001 [--db bench_scale] [--keep] [--processes 2]

`--scale 1.0` is issue 15's measured run: ~440,000 objects from
`generate_elasticc_data` (~10^7 sources and alerts, ~10^8 forced
sources, alerts written as sent) and 10^8 classifications (synthetic v0_9_1
broker messages, 7 classifications each, two classifiers, about the loaded
alerts) stored through the production path (`parse_avro_record` +
`store_broker_messages`, in batches of brokerpoll's default size) by
`--processes` processes side by side, as brokerpoll processes in one
consumer group. Everything scales with `--scale`; 1.0 needs ~45 GB of disk
and ~21 minutes on the 2-core machine (bench/README.md), so on a shared
machine run a small factor.

It reports
- generation and load rates (rows/s, messages/s);
- disk bytes per row of each table: heap and each index (partitions summed);
- REST list pages (100 rows) first and at depth, via the keyset cursor;
- the summary, classifier list (comparison) and classifier pages;
- the full and an incremental (1,000 new messages) metrics refresh;
- `/elasticc2/gethottransients` for the last 30 days of the simulation;
- the SQL endpoint counting a range of alertIds through an index;
- extrapolations to ELAsTiCC2 (990 M forced sources, 377 M broker messages):
  disk and load/ingest time at the rates measured here.

It uses its own database (default `bench_scale`), dropped at the end unless
`--keep`. Times are medians; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_db import drop_database, setup_django
from timing import execute, load_average, median_ms, timed

BASE_DIR = Path(__file__).resolve().parent.parent
FULL_OBJECTS = 440_000
FULL_CLASSIFICATIONS = 100_000_000
CLASSES = (111, 112, 113, 114, 115, 135, 131)
ELASTICC2_FORCED = 990_000_000
ELASTICC2_MESSAGES = 377_000_000
TABLES = (
    "elasticc_diaobject",
    "elasticc_diasource",
    "elasticc_diaforcedsource",
    "elasticc_diaalert",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_brokermessage",
    "elasticc_brokerclassification",
)

# Heap (with TOAST) and each index of a table, summed over its partitions
# (pg_partition_tree lists a partitioned relation's tree, and nothing for a
# plain one, hence the UNION with the relation itself).
SIZES_SQL = """
SELECT 'heap', sum(pg_table_size(r))
FROM (SELECT relid AS r FROM pg_partition_tree(%(t)s::regclass) UNION SELECT %(t)s::regclass) tree
UNION ALL
SELECT i.indexrelid::regclass::text,
       (SELECT sum(pg_relation_size(r))
        FROM (SELECT relid AS r FROM pg_partition_tree(i.indexrelid) UNION SELECT i.indexrelid::regclass) tree)
FROM pg_index i WHERE i.indrelid = %(t)s::regclass
"""


def broker_records(alerts: tuple[np.ndarray, np.ndarray], start: int, n: int) -> list[dict]:
    alertids, sourceids = alerts
    now = int(time.time() * 1000)
    template = {
        "elasticcPublishTimestamp": now - 2000,
        "brokerIngestTimestamp": now - 1000,
        "brokerName": "ScaleBroker",
        "brokerVersion": "v1.0",
        "classifierParams": "scale",
        "classifications": [{"classId": c, "probability": 1 / len(CLASSES)} for c in CLASSES],
    }
    return [
        {
            **template,
            "alertId": int(alertids[i % len(alertids)]),
            "diaSourceId": int(sourceids[i % len(alertids)]),
            "classifierName": f"Classifier{i % 2}",
        }
        for i in range(start, start + n)
    ]


def loaded_alerts() -> tuple[np.ndarray, np.ndarray]:
    """(alertId, diaSourceId) of every alert, by alertId; through COPY, as
    fetching 10^7 rows as Python tuples takes minutes and gigabytes."""
    import pyarrow.csv as pacsv
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.copy("COPY (SELECT alertid, diasourceid FROM elasticc_diaalert) TO STDOUT (FORMAT csv)") as copy,
    ):
        data = b"".join(bytes(block) for block in copy)
    table = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=["a", "s"]))
    alertids, sourceids = table["a"].to_numpy(), table["s"].to_numpy()
    order = np.argsort(alertids)
    return alertids[order], sourceids[order]


def ingest(alerts: tuple[np.ndarray, np.ndarray], start: int, n: int) -> tuple[float, float]:
    """Store n synthetic broker messages (Kafka offsets start..start+n) through
    the production path; returns (wall seconds, seconds of it in storage)."""
    from elasticc.brokers.kafka_consumer import PollOptions
    from elasticc.brokers.parsing import MessageOrigin, parse_avro_record
    from elasticc.brokers.storage import store_broker_messages

    began, storing = time.perf_counter(), 0.0
    per_batch = PollOptions.batch_size
    for chunk in range(start, start + n, per_batch):
        size = min(per_batch, start + n - chunk)
        batch = [
            parse_avro_record(r, schema_version="v0_9_1", origin=MessageOrigin("scale", 0, chunk + i, None))
            for i, r in enumerate(broker_records(alerts, chunk, size))
        ]
        t0 = time.perf_counter()
        store_broker_messages(messages=batch)
        storing += time.perf_counter() - t0
    return time.perf_counter() - began, storing


_ALERTS: tuple[np.ndarray, np.ndarray] | None = None  # set before forking: the children inherit it


def ingest_in_processes(alerts: tuple[np.ndarray, np.ndarray], n: int, processes: int) -> tuple[float, float]:
    """`ingest` of n messages split over `processes` forked processes (as
    brokerpoll processes in one consumer group share a topic's partitions);
    returns (wall seconds, storage seconds per process on average)."""
    global _ALERTS
    from django.db import connections

    _ALERTS = alerts
    connections.close_all()  # each process opens its own
    share = -(-n // processes)
    ranges = [(k * share, min(share, n - k * share)) for k in range(processes)]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.starmap(_ingest_range, ranges)
    wall = time.perf_counter() - began
    return wall, sum(storing for _, storing in results) / processes


def _ingest_range(start: int, n: int) -> tuple[float, float]:
    return ingest(_ALERTS, start, n)


class Vacuum(threading.Thread):
    """VACUUM of `tables` on a connection of its own (Django's are per thread)."""

    def __init__(self, tables: tuple[str, ...]) -> None:
        super().__init__()
        self.tables = tables
        self.seconds = 0.0

    def run(self) -> None:
        from django.db import connection

        started = time.perf_counter()
        try:
            execute("VACUUM " + ", ".join(self.tables))
        finally:
            connection.close()
        self.seconds = time.perf_counter() - started


def key_at_fraction(table: str, key: str, fraction: float) -> int:
    """The value of integer column `key` at about `fraction` of `table` in key
    order, from the statistics ANALYZE keeps (a partitioned table's are the
    inherited ones)."""
    ((bounds,),) = execute(
        "SELECT histogram_bounds::text FROM pg_stats WHERE schemaname = 'public' AND tablename = %s "
        "AND attname = %s ORDER BY inherited DESC LIMIT 1",
        [table, key],
    )
    values = [int(v) for v in bounds.strip("{}").split(",")]
    return values[round(fraction * (len(values) - 1))]


def sizes(counts: dict[str, int]) -> dict[str, float]:
    """Print bytes per row of each table's heap and indexes; return total bytes per row."""
    per_row: dict[str, float] = {}
    print(f"\n{'table / index':<58}{'rows':>14}{'MB':>10}{'bytes/row':>11}")
    for table in TABLES:
        rows = max(counts[table], 1)
        total = 0
        for name, size in execute(SIZES_SQL, {"t": table}):
            size = int(size or 0)
            total += size
            label = table if name == "heap" else f"  index {name}"
            print(f"{label:<58}{counts[table] if name == 'heap' else '':>14}{size / 1e6:>10.1f}{size / rows:>11.1f}")
        per_row[table] = total / rows
        print(f"{'  total':<58}{'':>14}{total / 1e6:>10.1f}{total / rows:>11.1f}")
    return per_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, required=True, help="1.0 = 10^8 forced sources and classifications")
    parser.add_argument("--db", default="bench_scale")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--processes", type=int, default=2, help="ingest processes side by side (brokerpoll's scale-out)"
    )
    args = parser.parse_args()
    n_objects = max(50, round(FULL_OBJECTS * args.scale))
    n_messages = max(2000, round(FULL_CLASSIFICATIONS * args.scale / len(CLASSES)))
    print(f"scale {args.scale}: {n_objects:,} objects, {n_messages:,} broker messages; {load_average()}")

    began = time.perf_counter()
    setup_django(args.db)
    try:
        run(n_objects, n_messages, args.processes)
    finally:
        if not args.keep:
            drop(args.db)
        print(f"whole run {(time.perf_counter() - began) / 60:.1f} min; {load_average()}")


def run(n_objects: int, n_messages: int, processes: int) -> None:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client, override_settings

    from elasticc.access.groups import ADMIN_GROUP
    from elasticc.ingest.synthetic import generate_elasticc_data
    from elasticc.metrics.refresh import refresh_metrics
    from elasticc.read.counts import row_counts

    # Generation and load: the end of a campaign, every alert sent, so its
    # history is "known" to the follow-up queries.
    started = time.perf_counter()
    report = generate_elasticc_data(n_objects=n_objects, seed=15, workers=3, alerts_sent_at=datetime.now(UTC))
    gen_s = time.perf_counter() - started
    gen_rows = sum(report.counts.values())
    print(
        f"generated {gen_rows:,} rows in {gen_s:.1f} s = {gen_rows / gen_s:,.0f} rows/s ({report.counts}); "
        f"{load_average()}"
    )
    alerts = loaded_alerts()
    wall, storing = ingest_in_processes(alerts, n_messages, processes)
    print(
        f"stored {n_messages:,} broker messages ({n_messages * len(CLASSES):,} classifications) in {wall:.1f} s = "
        f"{n_messages / wall:,.0f} messages/s in {processes} process(es) ({n_messages / storing:,.0f}/s counting "
        f"storage only); {load_average()}"
    )
    execute("SELECT elasticc_compact_rowcounts()")
    timed("ANALYZE", execute, "ANALYZE")

    # Metrics: full, then incremental after 1,000 new messages. Beside the full
    # refresh (one backend, one core), the VACUUM a bulk load needs (one
    # backend, the other core): it sets the hint bits and the visibility map
    # of the fresh pages, which index-only scans read; autovacuum would make
    # the same pass during the measurements below otherwise.
    vacuum = Vacuum(TABLES)
    vacuum.start()
    started = time.perf_counter()
    refresh_metrics(full=True)
    full_s = time.perf_counter() - started
    vacuum.join()
    print(f"VACUUM {vacuum.seconds:.1f} s, beside the full refresh")
    counts = row_counts(list(TABLES))
    per_row = sizes(counts)
    ingest(alerts, n_messages, 1000)
    started = time.perf_counter()
    result = refresh_metrics()
    incr_s = time.perf_counter() - started
    print(
        f"\nmetrics refresh: full {full_s:.2f} s ({n_messages:,} messages = {n_messages / full_s:,.0f}/s), "
        f"incremental {1000 * incr_s:.0f} ms for {result.messages:,} new messages; {load_average()}"
    )

    # Plain static URLs: the pages' server time, without needing collectstatic's manifest.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    user, _ = User.objects.get_or_create(username="bench_scale_admin")
    user.groups.add(Group.objects.get(name=ADMIN_GROUP))
    client = Client()
    client.force_login(user)

    def get(url: str):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response

    def post_raw(url: str, body: dict) -> bytes:
        response = client.post(url, data=json.dumps(body), content_type="application/json")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, (url, response.status_code, body[:300])
        return body

    def post(url: str, body: dict):
        return json.loads(post_raw(url, body))

    print(f"\n{'page':<60}{'median ms':>10}")
    timings: dict[str, float] = {}
    for endpoint, table, key in (
        ("diaforcedsource", "elasticc_diaforcedsource", "diaforcedsourceid"),
        ("diasource", "elasticc_diasource", "diasourceid"),
        ("diaobject", "elasticc_diaobject", "diaobjectid"),
        ("diaalert", "elasticc_diaalert", "alertid"),
        ("brokermessage", "elasticc_brokermessage", "brokermessageid"),
    ):
        # The cursor a client holds after walking ~90% of the table: the key at
        # that quantile of ANALYZE's histogram (an OFFSET would read 10^8 rows).
        depth = counts[table] * 9 // 10
        after = key_at_fraction(table, key, 0.9)
        timings[f"/elasticc/{endpoint}/ page 1"] = median_ms(lambda e=endpoint: get(f"/elasticc/{e}/"))
        timings[f"/elasticc/{endpoint}/ at row ~{depth:,}"] = median_ms(
            lambda e=endpoint, a=after: get(f"/elasticc/{e}/?after={a}")
        )
    (classifierid,) = execute("SELECT min(classifierid) FROM elasticc_brokerclassifier")[0]
    for label, url in (
        ("summary page", "/elasticc/summary/"),
        ("classifier list (comparison) page", "/elasticc/metrics/"),
        ("classifier page", f"/elasticc/metrics/{classifierid}/"),
    ):
        timings[label] = median_ms(lambda u=url: get(u))
    (last_mjd,) = execute("SELECT max(midpointtai) FROM elasticc_diasource")[0]
    hot_body = {"detected_in_last_days": 30, "mjd_now": last_mjd}
    # A month of a campaign is a large answer (~190 MB at --scale 0.2): not
    # decoded here, and timed once rather than five times.
    started = time.perf_counter()
    hot_mb = len(post_raw("/elasticc2/gethottransients/", hot_body)) / 1e6
    timings[f"/elasticc2/gethottransients/ last 30 days ({hot_mb:,.0f} MB), one run"] = 1000 * (
        time.perf_counter() - started
    )
    alertids = alerts[0]
    lo, hi = int(alertids[len(alertids) // 4]), int(alertids[3 * len(alertids) // 4])
    count_sql = {"query": "SELECT count(*) FROM elasticc_brokermessage WHERE alertid BETWEEN %(lo)s AND %(hi)s",
                 "subdict": {"lo": lo, "hi": hi}}  # fmt: skip
    counted = post("/db/runsqlquery/", count_sql)
    plan = execute("EXPLAIN " + count_sql["query"].replace("%(lo)s", str(lo)).replace("%(hi)s", str(hi)))
    via = "index" if any("Index" in line for (line,) in plan) else "NO index"
    timings[f"/db/runsqlquery/ count(*) of {counted['rows'][0]['count']:,} messages by alertId ({via})"] = median_ms(
        lambda: post("/db/runsqlquery/", count_sql)
    )
    for label, ms in timings.items():
        print(f"{label:<60}{ms:>10.1f}")
    print(load_average())

    # ELAsTiCC2's size at the rates and bytes per row measured here.
    forced_rate = report.counts["elasticc_diaforcedsource"] / gen_s
    message_rate = n_messages / wall
    forced_gb = ELASTICC2_FORCED * per_row["elasticc_diaforcedsource"] / 1e9
    messages_gb = (
        ELASTICC2_MESSAGES
        * (per_row["elasticc_brokermessage"] + len(CLASSES) * per_row["elasticc_brokerclassification"])
        / 1e9
    )
    print(
        f"\nELAsTiCC2: 990 M forced sources ~ {forced_gb:,.0f} GB, generated in "
        f"~{ELASTICC2_FORCED / forced_rate / 3600:,.1f} h"
        f" (with their sources, alerts and truth) at {forced_rate:,.0f} forced sources/s;\n"
        f"377 M broker messages ({len(CLASSES)} classifications each) ~ {messages_gb:,.0f} GB, ingested in "
        f"~{ELASTICC2_MESSAGES / message_rate / 3600:,.1f} h at {message_rate:,.0f} messages/s "
        f"(~{ELASTICC2_MESSAGES / 20_000 / 3600:,.1f} h at brokerpoll's 20,000 messages/s target)"
    )


def drop(db_name: str) -> None:
    from django.db import connections

    connections.close_all()
    drop_database(db_name)
    print(f"dropped database {db_name}")


if __name__ == "__main__":
    sys.exit(main())
