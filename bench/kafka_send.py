"""Benchmark: send_elasticc_alerts vs per-alert ORM reconstruction.

    .venv/bin/python bench/kafka_send.py [--copies 20] [--db bench_send] [--orm-alerts 2000]

1. Loads the ELAsTiCC sample (../shared, 346 objects, 1,862 alerts, 52k forced
   sources) with the SNANA loader, then replicates it `--copies` times with
   shifted ids (same times, so each simulated night holds `copies` times more
   alerts), all unsent.
2. send_elasticc_alerts: `alert_sender.send_alerts` through the last day to
   a fresh topic: selection, set-based building, row encoding, produce,
   confirmed deliveries, bulk `alertsenttimestamp` UPDATEs. Timed end to end.
   Also times `build_alert_payloads` alone (no Kafka) on the same alerts.
3. ORM: what the original did, on the first `--orm-alerts` alerts in time
   order: per alert `DiaAlert.objects.get`, its source and object through the
   foreign keys, the object's sources and the forced sources in the window
   as ORM queries, fastavro encoding, produce; one bulk timestamp update
   per 1,000 alerts.

Targets (2-core machine): >= 5,000 alerts/s and >= 10x the ORM path. The
database (default `bench_send`, created and migrated if absent) is emptied
of alert data before loading; never point it at production.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

from bench_db import setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
SAMPLE = BASE_DIR.parent / "shared" / "elasticc" / "sample" / "snana"
OBJ_SHIFT = 10**8  # the sample's diaObjectIds are < 1e8
ID_SHIFT = 10**13  # its source/forced/alert ids are diaObjectId * 100000 + n < 1e13


def load_data(copies: int) -> int:
    """The sample, `copies` times; returns the number of alerts."""
    from django.db import connection

    from elasticc.avro.columns import DIAFORCEDSOURCE_COLUMNS, DIAOBJECT_COLUMNS, DIASOURCE_COLUMNS
    from elasticc.ingest.snana import load_snana_dirs

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE elasticc_diaalert, elasticc_diaforcedsource, elasticc_diatruth, elasticc_diaobjecttruth, "
            "elasticc_diasource, elasticc_diaobject CASCADE"
        )
    report = load_snana_dirs(dirs=sorted(p for p in SAMPLE.iterdir() if p.is_dir()))
    if report.files_failed:
        raise SystemExit(f"loading the sample failed: {report.files_failed[:3]}")

    def shifted(columns: tuple[str, ...], shifts: dict[str, int]) -> tuple[str, str]:
        cols = ", ".join(columns)
        exprs = ", ".join(f"{c} + k::bigint * {shifts[c]}" if c in shifts else c for c in columns)
        return cols, exprs

    tables = (
        ("elasticc_diaobject", DIAOBJECT_COLUMNS, {"diaobjectid": OBJ_SHIFT}),
        ("elasticc_diasource", DIASOURCE_COLUMNS, {"diaobjectid": OBJ_SHIFT, "diasourceid": ID_SHIFT}),
        (
            "elasticc_diaforcedsource",
            DIAFORCEDSOURCE_COLUMNS,
            {"diaobjectid": OBJ_SHIFT, "diaforcedsourceid": ID_SHIFT},
        ),
        (
            "elasticc_diaalert",
            ("alertid", "diasourceid", "diaobjectid"),
            {"alertid": ID_SHIFT, "diasourceid": ID_SHIFT, "diaobjectid": OBJ_SHIFT},
        ),
    )
    with connection.cursor() as cursor:
        for table, columns, shifts in tables:
            cols, exprs = shifted(columns, shifts)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM {table}, generate_series(1, %s) AS k "
                f"WHERE {table}.diaobjectid < {OBJ_SHIFT}",
                [copies - 1],
            )
        cursor.execute("UPDATE elasticc_diaalert SET alertsenttimestamp = NULL")
        for table, _, _ in tables:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT count(*) FROM elasticc_diaalert")
        return cursor.fetchone()[0]


def alerts_in_time_order(limit: int | None = None) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.alertid FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "ORDER BY s.midpointtai, a.alertid LIMIT %s",
            [limit],
        )
        return [r[0] for r in cursor.fetchall()]


def bench_send(bootstrap: str, topic: str, batch_size: int) -> tuple[int, float, float]:
    """(alerts, wall seconds, CPU seconds of this process)."""
    from elasticc.stream.alert_sender import SendOptions, send_alerts

    cpu = time.process_time()
    result = send_alerts(
        options=SendOptions(through_day=1e9, kafka_server=bootstrap, topic=topic, batch_size=batch_size, progress=False)
    )
    return result.confirmed, result.seconds, time.process_time() - cpu


def bench_build_only(ids: list[int], batch_size: int = 5000) -> float:
    from elasticc.stream.alert_builder import build_alert_payloads

    started = time.perf_counter()
    for i in range(0, len(ids), batch_size):
        build_alert_payloads(alert_ids=ids[i : i + batch_size])
    return time.perf_counter() - started


def bench_record_only(ids: list[int], batch_size: int = 5000) -> float:
    from elasticc.stream.alert_sender import record_sent

    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    for i in range(0, len(ids), batch_size):
        record_sent([(alertid, now_ms) for alertid in ids[i : i + batch_size]])
    return time.perf_counter() - started


def orm_reconstruct(alert, history_days: float = 365.0) -> dict:
    """The original's per-alert reconstruction, with the Django ORM."""
    from elasticc.avro.columns import DIAOBJECT_AVRO_FIELDS, avro_fields
    from elasticc.models import DiaForcedSource, DiaSource

    source = alert.diasource
    obj = alert.diaobject
    src_fields = ("diaSourceId", "diaObjectId", "midPointTai", "filterName", "ra", "decl", "psFlux", "psFluxErr", "snr")
    src_cols = [f.lower() if f not in ("diaObjectId",) else "diaobject_id" for f in src_fields]
    out = {
        "alertId": alert.alertid,
        "diaSource": {f: getattr(source, c) for f, c in zip(src_fields, src_cols, strict=True)},
        "prvDiaSources": [],
        "prvDiaForcedSources": [],
        "diaObject": {f: getattr(obj, f.lower()) for f in avro_fields(DIAOBJECT_AVRO_FIELDS, "v0_9_1")},
    }
    t = source.midpointtai
    all_sources = list(DiaSource.objects.filter(diaobject_id=obj.diaobjectid).order_by("midpointtai").values(*src_cols))
    first = all_sources[0]["midpointtai"]
    out["prvDiaSources"] = [
        dict(zip(src_fields, row.values(), strict=True))
        for row in all_sources
        if t - history_days <= row["midpointtai"] < t
    ]
    if t - first > 0.5:
        fs_cols = ("diaforcedsourceid", "diaobject_id", "midpointtai", "filtername", "psflux", "psfluxerr")
        fs_fields = ("diaForcedSourceId", "diaObjectId", "midPointTai", "filterName", "psFlux", "psFluxErr")
        rows = (
            DiaForcedSource.objects.filter(
                diaobject_id=obj.diaobjectid,
                midpointtai__gte=max(t - history_days, first - 30),
                midpointtai__lt=t,
            )
            .order_by("midpointtai")
            .values(*fs_cols)
        )
        out["prvDiaForcedSources"] = [dict(zip(fs_fields, row.values(), strict=True)) for row in rows]
    return out


def bench_orm(bootstrap: str, topic: str, ids: list[int]) -> tuple[int, float, list[tuple[int, bytes]]]:
    from confluent_kafka import Producer
    from django.db.models.functions import Now

    from elasticc.avro import codec as avro_codec
    from elasticc.models import DiaAlert

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    payloads = []
    started = time.perf_counter()
    done: list[int] = []
    for alertid in ids:
        alert = DiaAlert.objects.get(pk=alertid)
        payload = avro_codec.encode(orm_reconstruct(alert), "alert", "v0_9_1")
        payloads.append((alertid, payload))
        producer.produce(topic, payload)
        producer.poll(0)
        done.append(alertid)
        if len(done) == 1000:
            producer.flush(60)
            DiaAlert.objects.filter(pk__in=done).update(alertsenttimestamp=Now())
            done = []
    producer.flush(60)
    DiaAlert.objects.filter(pk__in=done).update(alertsenttimestamp=Now())
    return len(ids), time.perf_counter() - started, payloads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--db", default="bench_send")
    parser.add_argument("--orm-alerts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=5000, help="send_elasticc_alerts --batch-size")
    parser.add_argument("--skip-load", action="store_true", help="reuse the data of the previous run")
    args = parser.parse_args()
    if not SAMPLE.is_dir():
        raise SystemExit(f"sample data not found at {SAMPLE}")
    setup_django(args.db)
    from django.conf import settings
    from django.db import connection

    bootstrap = settings.KAFKA_BOOTSTRAP_SERVERS
    run = uuid.uuid4().hex[:8]

    if args.skip_load:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE elasticc_diaalert SET alertsenttimestamp = NULL")
            cursor.execute("VACUUM ANALYZE elasticc_diaalert")
            cursor.execute("SELECT count(*) FROM elasticc_diaalert")
            n_alerts = cursor.fetchone()[0]
    else:
        t0 = time.perf_counter()
        n_alerts = load_data(args.copies)
        print(f"loaded {n_alerts} alerts ({args.copies} copies of the sample) in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM elasticc_diaforcedsource")
        print(f"forced sources: {cursor.fetchone()[0]}")

    ids = alerts_in_time_order()
    build_s = bench_build_only(ids, args.batch_size)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"build_alert_payloads only: {len(ids)} alerts in {build_s:.2f} s = {len(ids) / build_s:,.0f} alerts/s")

    sent, send_s, send_cpu = bench_send(bootstrap, f"bench-send-{run}", args.batch_size)
    send_rate = sent / send_s
    print(
        f"send_elasticc_alerts:      {sent} alerts in {send_s:.2f} s = {send_rate:,.0f} alerts/s (end to end; "
        f"{sent / send_cpu:,.0f} alerts per CPU-second of the sender process)"
    )

    with connection.cursor() as cursor:
        cursor.execute("UPDATE elasticc_diaalert SET alertsenttimestamp = NULL")
        cursor.execute("VACUUM ANALYZE elasticc_diaalert")
    update_s = bench_record_only(ids)
    print(f"alertsenttimestamp UPDATEs alone (5,000 per statement): {len(ids) / update_s:,.0f} alerts/s")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE elasticc_diaalert SET alertsenttimestamp = NULL")
        cursor.execute("VACUUM ANALYZE elasticc_diaalert")
    orm_ids = ids[: args.orm_alerts]
    cpu = time.process_time()
    n_orm, orm_s, orm_payloads = bench_orm(bootstrap, f"bench-send-orm-{run}", orm_ids)
    orm_cpu = time.process_time() - cpu
    orm_rate = n_orm / orm_s
    print(
        f"per-alert ORM:             {n_orm} alerts in {orm_s:.2f} s = {orm_rate:,.0f} alerts/s "
        f"({n_orm / orm_cpu:,.0f} alerts per CPU-second)"
    )

    from elasticc.stream.alert_builder import build_alert_payloads

    ours = dict(build_alert_payloads(alert_ids=orm_ids))
    same = sum(1 for alertid, payload in orm_payloads if ours[alertid] == payload)
    print(f"identical payloads (ORM vs set-based): {same}/{n_orm}")
    print(
        f"RESULT send {send_rate:,.0f} alerts/s (target >= 5,000: {'met' if send_rate >= 5000 else 'NOT met'}), "
        f"{send_rate / orm_rate:.1f}x ORM (target >= 10x: {'met' if send_rate >= 10 * orm_rate else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
