"""Benchmark: server time of the ELAsTiCC pages vs the naive queries they replace.

    .venv/bin/python bench/pages.py [--objects 20000] [--sources 25] [--forced 500]
                                    [--classifiers 4] [--classes 5] [--db bench_pages] [--keep]

1. Fills a fresh database (default `bench_pages`, created and migrated; its
   ELAsTiCC rows are emptied first, so never point it at production) with
   synthetic data, set-based in SQL: objects with truth, `--sources` detections
   (= sent alerts) and `--forced` forced sources per object, and one message per
   (classifier, alert) with `--classes` classifications each. The defaults give
   10^7 forced sources and 10^7 classifications.
2. Times `refresh_metrics(full=True)` (the one-off rebuild), then an
   incremental refresh after 1,000 new messages (what the alert cycle pays).
3. Times the pages in-process with Django's test client, logged in as an
   elasticc_admin (median of `--repeat` requests): summary, classifier list,
   a classifier's metrics page (two settings) and an object page.
4. Times, in the same run, the naive queries the original pages ran: COUNT(*)
   of each table and GROUP BY per classifier for the summary; the confusion
   matrix, delay histograms and completeness computed from the raw tables for
   one classifier.

Targets: summary < 200 ms, classifier page < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench_db import setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
CLASSES = (111, 112, 113, 114, 115, 121, 122, 131, 132, 221)
GENTYPES = (10, 20, 30, 12, 11, 50, 82, 40, 42, 60)


def timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed * 1000:10.1f} ms", flush=True)
    return result, elapsed


def execute(sql: str, params=None) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def fill(args) -> dict:
    """Synthetic data, set-based; returns the classifier ids."""
    n, s, f = args.objects, args.sources, args.forced
    execute(
        "TRUNCATE elasticc_brokerclassification, elasticc_brokermessage, elasticc_brokerclassifier, "
        "elasticc_diaforcedsource, elasticc_diatruth, elasticc_diaobjecttruth, elasticc_diaalert, "
        "elasticc_diasource, elasticc_diaobject CASCADE"
    )
    gentypes = "ARRAY[" + ",".join(map(str, GENTYPES)) + "]"
    classes = "ARRAY[" + ",".join(map(str, CLASSES[: args.classes])) + "]"
    print(
        f"filling: {n:,} objects, {n * s:,} sources/alerts, {n * f:,} forced sources, "
        f"{n * s * args.classifiers:,} messages, {n * s * args.classifiers * args.classes:,} classifications"
    )
    timed(
        "objects",
        execute,
        "INSERT INTO elasticc_diaobject (diaobjectid, ra, decl, isddf, hostgal_zphot, hostgal_mag_r) "
        "SELECT i, random() * 360, degrees(asin(2 * random() - 1)), false, random(), 20 + 4 * random() "
        "FROM generate_series(1, %s) i",
        [n],
    )
    timed(
        "object truth",
        execute,
        f"INSERT INTO elasticc_diaobjecttruth (diaobjectid, gentype, peakmjd) "
        f"SELECT i, ({gentypes})[1 + i %% {len(GENTYPES)}], 60000 + i %% 300 FROM generate_series(1, %s) i",
        [n],
    )
    timed(
        "sources",
        execute,
        "INSERT INTO elasticc_diasource (diasourceid, diaobjectid, midpointtai, filtername, ra, decl, "
        "psflux, psfluxerr, snr) SELECT i * 1000 + k, i, 60000 + i %% 300 + 2.5 * k, "
        "(ARRAY['u','g','r','i','z','Y'])[1 + k %% 6], 0, 0, 1000 * random(), 50, 10 "
        "FROM generate_series(1, %s) i, generate_series(0, %s) k",
        [n, s - 1],
    )
    timed(
        "alerts (all sent)",
        execute,
        "INSERT INTO elasticc_diaalert (alertid, diasourceid, diaobjectid, alertsenttimestamp) "
        "SELECT diasourceid, diasourceid, diaobjectid, "
        "timestamptz '2026-01-01' + make_interval(secs => (midpointtai - 60000) * 86400) FROM elasticc_diasource",
    )
    timed(
        "forced sources",
        execute,
        "INSERT INTO elasticc_diaforcedsource (diaforcedsourceid, diaobjectid, midpointtai, filtername, "
        "psflux, psfluxerr) SELECT i::bigint * 10000 + k, i, 59990 + i %% 300 + 0.5 * k, "
        "(ARRAY['u','g','r','i','z','Y'])[1 + k %% 6], 100 * random(), 50 "
        "FROM generate_series(1, %s) i, generate_series(0, %s) k",
        [n, f - 1],
    )
    classifier_ids = []
    for c in range(args.classifiers):
        rows = execute(
            "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
            "VALUES ('BenchBroker', '1', %s, 'default') RETURNING classifierid",
            [f"clf{c}"],
        )
        classifier_ids.append(rows[0][0])
    for c, classifierid in enumerate(classifier_ids):
        timed(
            f"messages + classifications, classifier {classifierid}",
            execute,
            f"""
            WITH m AS (
                INSERT INTO elasticc_brokermessage (messagekey, topicname, kafkapartition, alertid, diasourceid,
                    msghdrtimestamp, elasticcpublishtimestamp, descingesttimestamp)
                SELECT 'bench:' || %(c)s || ':' || alertid, 'bench', %(c)s, alertid, diasourceid,
                       alertsenttimestamp + make_interval(secs => exp(random() * 8)),
                       alertsenttimestamp,
                       alertsenttimestamp + make_interval(secs => exp(random() * 8) + exp(random() * 4))
                FROM elasticc_diaalert
                RETURNING brokermessageid
            )
            INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability)
            SELECT m.brokermessageid, %(cid)s, cls, random() FROM m CROSS JOIN unnest({classes}) cls
            """,
            {"c": c, "cid": classifierid},
        )
    timed("ANALYZE", execute, "ANALYZE")
    return {"classifiers": classifier_ids}


def add_messages(classifierid: int, count: int) -> None:
    execute(
        """
        WITH m AS (
            INSERT INTO elasticc_brokermessage (messagekey, topicname, alertid, diasourceid, msghdrtimestamp,
                elasticcpublishtimestamp)
            SELECT 'bench-new:' || alertid, 'bench', alertid, diasourceid, alertsenttimestamp + interval '30 s',
                   alertsenttimestamp
            FROM elasticc_diaalert ORDER BY alertid DESC LIMIT %(n)s
            RETURNING brokermessageid
        )
        INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability)
        SELECT brokermessageid, %(cid)s, 111, 0.9 FROM m
        """,
        {"n": count, "cid": classifierid},
    )


NAIVE_SUMMARY = [
    ("count(*) diaobject", "SELECT count(*) FROM elasticc_diaobject"),
    ("count(*) diasource", "SELECT count(*) FROM elasticc_diasource"),
    ("count(*) diaforcedsource", "SELECT count(*) FROM elasticc_diaforcedsource"),
    ("count(*) diaalert sent / unsent", "SELECT count(alertsenttimestamp), count(*) FROM elasticc_diaalert"),
    ("count(*) brokermessage", "SELECT count(*) FROM elasticc_brokermessage"),
    (
        "per classifier: classifications, messages, last ingest",
        "SELECT c.classifierid, count(*), count(DISTINCT c.brokermessageid), max(m.descingesttimestamp) "
        "FROM elasticc_brokerclassification c JOIN elasticc_brokermessage m USING (brokermessageid) "
        "GROUP BY c.classifierid",
    ),
]

NAIVE_CLASSIFIER = [
    (
        "confusion matrix (latest per object) from raw tables",
        """
        WITH top AS (
            SELECT DISTINCT ON (brokermessageid) brokermessageid, classid FROM elasticc_brokerclassification
            WHERE classifierid = %(cid)s ORDER BY brokermessageid, probability DESC
        ), lat AS (
            SELECT DISTINCT ON (a.diaobjectid) a.diaobjectid, t.classid
            FROM top t JOIN elasticc_brokermessage m USING (brokermessageid)
            JOIN elasticc_diaalert a ON a.alertid = m.alertid
            ORDER BY a.diaobjectid, a.alertsenttimestamp DESC
        )
        SELECT g.classid, lat.classid, count(*) FROM lat
        JOIN elasticc_diaobjecttruth ot USING (diaobjectid)
        JOIN elasticc_gentypeofclassid g ON g.gentype = ot.gentype GROUP BY 1, 2
        """,
    ),
    (
        "delay histograms from raw tables",
        """
        SELECT k, floor(10 * log(greatest(extract(epoch FROM d)::float8, 0.01))) AS b, count(*)
        FROM (SELECT m.msghdrtimestamp - a.alertsenttimestamp AS d1, m.descingesttimestamp - m.msghdrtimestamp AS d2,
                     m.descingesttimestamp - a.alertsenttimestamp AS d3
              FROM elasticc_brokermessage m JOIN elasticc_diaalert a ON a.alertid = m.alertid
              WHERE EXISTS (SELECT 1 FROM elasticc_brokerclassification c
                            WHERE c.brokermessageid = m.brokermessageid AND c.classifierid = %(cid)s)) x
        CROSS JOIN LATERAL (VALUES (0, d1), (1, d2), (2, d3)) v(k, d)
        GROUP BY 1, 2
        """,
    ),
    (
        "completeness per day from raw tables",
        """
        SELECT date(a.alertsenttimestamp), count(*), count(c.alertid)
        FROM elasticc_diaalert a LEFT JOIN (
            SELECT DISTINCT m.alertid FROM elasticc_brokermessage m JOIN elasticc_brokerclassification bc
            ON bc.brokermessageid = m.brokermessageid WHERE bc.classifierid = %(cid)s) c ON c.alertid = a.alertid
        WHERE a.alertsenttimestamp IS NOT NULL GROUP BY 1
        """,
    ),
]


def page_time(client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--sources", type=int, default=25, help="detections (= sent alerts) per object")
    parser.add_argument("--forced", type=int, default=500, help="forced sources per object")
    parser.add_argument("--classifiers", type=int, default=4)
    parser.add_argument("--classes", type=int, default=5, help="classifications per message (at most 10)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", default="bench_pages")
    parser.add_argument("--keep", action="store_true", help="keep the data (default: empty the tables at the end)")
    args = parser.parse_args()
    setup_django(args.db)

    from django.contrib.auth.models import Group, User
    from django.test import Client

    from elasticc.metrics.refresh import refresh_metrics

    ids = fill(args)["classifiers"]
    print("aggregates:")
    _, full_time = timed("refresh_metrics(full=True)", refresh_metrics, full=True)
    add_messages(ids[0], 1000)
    result, incr_time = timed("refresh_metrics() after 1,000 new messages", refresh_metrics)
    assert result.messages == 1000, result

    user, _ = User.objects.get_or_create(username="bench_pages_admin")
    user.groups.add(Group.objects.get(name="elasticc_admin"))
    client = Client()
    client.force_login(user)
    cid = ids[0]
    obj = args.objects // 2
    pages = {
        "summary": "/elasticc/summary/",
        "truth summary (admin)": "/elasticc/summary/truth/",
        "classifier list": "/elasticc/metrics/",
        "classifier page (latest, exact)": f"/elasticc/metrics/{cid}/",
        "classifier page (best, category, by pred, weekly)": f"/elasticc/metrics/{cid}/?mode=best&level=category"
        "&norm=pred&period=week",
        "object page": f"/elasticc/object/{obj}/",
    }
    print(f"pages (server time, median of {args.repeat}):")
    page_times = {}
    for label, url in pages.items():
        client.get(url)  # warm caches (templates, connection)
        page_times[label] = page_time(client, url, args.repeat)
        print(f"  {label:<58} {page_times[label] * 1000:10.1f} ms", flush=True)

    print("naive queries the original pages ran (same run):")
    naive_summary = sum(timed(label, execute, sql)[1] for label, sql in NAIVE_SUMMARY)
    naive_classifier = sum(timed(label, execute, sql, {"cid": cid})[1] for label, sql in NAIVE_CLASSIFIER)

    print("result:")
    summary, classifier = page_times["summary"], page_times["classifier page (latest, exact)"]
    print(
        f"  summary page      {summary * 1000:8.1f} ms  (target < 200 ms; naive queries {naive_summary * 1000:,.0f} ms)"
    )
    print(
        f"  classifier page   {classifier * 1000:8.1f} ms  (target < 1000 ms; naive queries "
        f"{naive_classifier * 1000:,.0f} ms)"
    )
    print(f"  object page       {page_times['object page'] * 1000:8.1f} ms")
    print(f"  full rebuild {full_time:.1f} s; incremental refresh of 1,000 messages {incr_time * 1000:.0f} ms")
    if not args.keep:
        execute(
            "TRUNCATE elasticc_brokerclassification, elasticc_brokermessage, elasticc_brokerclassifier, "
            "elasticc_diaforcedsource, elasticc_diatruth, elasticc_diaobjecttruth, elasticc_diaalert, "
            "elasticc_diasource, elasticc_diaobject CASCADE"
        )
        refresh_metrics(full=True)
    ok = summary < 0.2 and classifier < 1.0
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
