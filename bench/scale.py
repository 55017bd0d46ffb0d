"""Benchmark: the whole schema at a campaign's size, and what ELAsTiCC2's would take.

    .venv/bin/python bench/scale.py --scale 0.001 [--db bench_scale] [--keep]

`--scale 1.0` is issue 15's measured run: ~440,000 objects from
`generate_elasticc_data` (~10^7 sources and alerts, ~10^8 forced sources)
and 10^8 classifications (synthetic v0_9_1 broker messages, 7
classifications each, two classifiers, about the loaded alerts) stored
through the production path (`parse_avro_record` + `store_broker_messages`,
in batches of brokerpoll's default size). Everything scales with `--scale`;
1.0 needs ~60 GB of disk and ~50 minutes on 2 cores (bench/README.md), so
on a shared machine run a small factor.

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
import json
import sys
import time
from pathlib import Path

from bench_db import drop_database, setup_django
from timing import execute, load_average, median_ms, median_seconds

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


def broker_records(alerts: list[tuple[int, int]], start: int, n: int) -> list[dict]:
    now = int(time.time() * 1000)
    p = 1 / len(CLASSES)
    return [
        {
            "alertId": alerts[i % len(alerts)][0],
            "diaSourceId": alerts[i % len(alerts)][1],
            "elasticcPublishTimestamp": now - 2000,
            "brokerIngestTimestamp": now - 1000,
            "brokerName": "ScaleBroker",
            "brokerVersion": "v1.0",
            "classifierName": f"Classifier{i % 2}",
            "classifierParams": "scale",
            "classifications": [{"classId": c, "probability": p} for c in CLASSES],
        }
        for i in range(start, start + n)
    ]


def ingest(alerts: list[tuple[int, int]], start: int, n: int) -> tuple[float, float]:
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
    args = parser.parse_args()
    n_objects = max(50, round(FULL_OBJECTS * args.scale))
    n_messages = max(2000, round(FULL_CLASSIFICATIONS * args.scale / len(CLASSES)))
    print(f"scale {args.scale}: {n_objects:,} objects, {n_messages:,} broker messages; {load_average()}")

    setup_django(args.db)
    try:
        run(n_objects, n_messages)
    finally:
        if not args.keep:
            drop(args.db)


def run(n_objects: int, n_messages: int) -> None:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client, override_settings

    from elasticc.access.groups import ADMIN_GROUP
    from elasticc.ingest.synthetic import generate_elasticc_data
    from elasticc.metrics.refresh import refresh_metrics
    from elasticc.read.counts import row_counts

    # Generation and load.
    started = time.perf_counter()
    report = generate_elasticc_data(n_objects=n_objects, seed=15, workers=2)
    gen_s = time.perf_counter() - started
    gen_rows = sum(report.counts.values())
    print(
        f"generated {gen_rows:,} rows in {gen_s:.1f} s = {gen_rows / gen_s:,.0f} rows/s ({report.counts}); "
        f"{load_average()}"
    )
    # The end of a campaign: every alert sent, so its history is "known" to the follow-up queries.
    execute("UPDATE elasticc_diaalert SET alertsenttimestamp = now()")
    alerts = execute("SELECT alertid, diasourceid FROM elasticc_diaalert ORDER BY alertid")
    wall, storing = ingest(alerts, 0, n_messages)
    print(
        f"stored {n_messages:,} broker messages ({n_messages * len(CLASSES):,} classifications) in {wall:.1f} s = "
        f"{n_messages / wall:,.0f} messages/s ({n_messages / storing:,.0f}/s counting storage only); {load_average()}"
    )
    execute("SELECT elasticc_compact_rowcounts()")
    execute("VACUUM ANALYZE")
    counts = row_counts(list(TABLES))
    per_row = sizes(counts)

    # Metrics: full, then incremental after 1,000 new messages.
    started = time.perf_counter()
    refresh_metrics(full=True)
    full_s = time.perf_counter() - started
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
        # The cursor a client holds after walking 90% of the table (looked up once, not timed).
        depth = counts[table] * 9 // 10
        (after,) = execute(f"SELECT {key} FROM {table} ORDER BY {key} OFFSET %s LIMIT 1", [depth])[0]
        timings[f"/elasticc/{endpoint}/ page 1"] = median_ms(lambda e=endpoint: get(f"/elasticc/{e}/"))
        timings[f"/elasticc/{endpoint}/ at row {depth:,}"] = median_ms(
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
    # decoded here, and timed once after a warm-up rather than five times.
    hot_mb = len(post_raw("/elasticc2/gethottransients/", hot_body)) / 1e6
    timings[f"/elasticc2/gethottransients/ last 30 days ({hot_mb:,.0f} MB), one run"] = 1000 * median_seconds(
        post_raw, 1, "/elasticc2/gethottransients/", hot_body, warm_up=False
    )
    lo, hi = alerts[len(alerts) // 4][0], alerts[3 * len(alerts) // 4][0]
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
