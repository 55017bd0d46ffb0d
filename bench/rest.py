"""Benchmark: REST list pages at any depth (keyset) vs OFFSET + COUNT(*).

    .venv/bin/python bench/rest.py [--objects 20000] [--db bench_rest] [--repeat 15] [--keep]

1. Fills a database of its own (default `bench_rest`: created and migrated;
   its ELAsTiCC rows are emptied first unless `--keep`, so never point it at
   production) with `elasticc.ingest.synthetic`
   (`--objects` objects; every epoch is a forced source, the detections are
   sources and alerts).
2. For each list endpoint, times in-process with Django's test client (a
   logged-in user; server time, no network) the median of `--repeat`
   requests of: page 1; a page at depth ~N (the last rows of the table)
   reached the way `next` links reach it (`?after=<key>`), and the next
   `--walk` pages followed through the `next` links from there; the `count`
   lookup alone.
3. Times, in the same run and on the same rows, what the original
   LimitOffsetPagination did for that deep page: COUNT(*) of the table plus
   `ORDER BY key OFFSET depth LIMIT 100`, and prints the ratio.

Targets: a page p50 < 50 ms at any depth, a count < 10 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench_db import setup_django
from timing import execute, median_ms

BASE_DIR = Path(__file__).resolve().parent.parent

# endpoint, table, key column
ENDPOINTS = (
    ("diaforcedsource", "elasticc_diaforcedsource", "diaforcedsourceid"),
    ("diasource", "elasticc_diasource", "diasourceid"),
    ("diaobject", "elasticc_diaobject", "diaobjectid"),
    ("diaalert", "elasticc_diaalert", "alertid"),
)


def fill(n_objects: int, keep: bool) -> None:
    """Synthetic rows for `n_objects` objects. With `keep`, rows already loaded
    stay and only missing chunks are generated (the generator skips chunks
    whose objects exist), so a bigger run can extend a smaller one."""
    from elasticc.ingest.synthetic import generate_elasticc_data

    if not keep:
        execute(
            "TRUNCATE elasticc_brokerclassification, elasticc_brokermessage, elasticc_diaforcedsource, "
            "elasticc_diatruth, elasticc_diaobjecttruth, elasticc_diaalert, elasticc_diasource, elasticc_diaobject "
            "CASCADE"
        )
        execute("DELETE FROM elasticc_rowcountdelta WHERE key LIKE 'elasticc_dia%%'")
    start = time.perf_counter()
    report = generate_elasticc_data(n_objects=n_objects, seed=42, progress=True)
    print(f"generated {report.counts} in {time.perf_counter() - start:.0f} s")
    execute("SELECT elasticc_compact_rowcounts()")
    for table in ("elasticc_diaobject", "elasticc_diasource", "elasticc_diaforcedsource", "elasticc_diaalert"):
        execute(f"VACUUM ANALYZE {table}")


def bench_endpoint(client, endpoint: str, table: str, key: str, repeat: int, walk: int) -> dict:
    from elasticc.read.counts import row_count

    total = row_count(table)
    depth = max(total - 100 * (walk + 2), 0)
    # The cursor a client would hold after walking `depth` rows (looked up once, not timed).
    (cursor,) = execute(f"SELECT {key} FROM {table} ORDER BY {key} OFFSET %s LIMIT 1", [max(depth - 1, 0)])[0]

    def get(url: str):
        # Server time only: the client's parsing of the JSON body is not timed.
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return response

    first_url = f"/elasticc/{endpoint}/"
    deep_url = f"/elasticc/{endpoint}/?after={cursor}"
    page1 = median_ms(lambda: get(first_url), repeat)
    deep = median_ms(lambda: get(deep_url), repeat)
    page_bytes = len(get(deep_url).content)

    walk_times = []
    url = deep_url
    for _ in range(walk):
        start = time.perf_counter()
        response = get(url)
        walk_times.append(time.perf_counter() - start)
        body = response.json()
        url = body["next"]
        if url is None:
            break
    assert body["count"] == total

    count = median_ms(lambda: row_count(table), repeat)
    old_count = median_ms(lambda: execute(f"SELECT count(*) FROM {table}"), max(3, repeat // 3))
    old_page = median_ms(
        lambda: execute(f"SELECT * FROM {table} ORDER BY {key} OFFSET %s LIMIT 100", [depth]), max(3, repeat // 3)
    )
    return {
        "endpoint": endpoint,
        "rows": total,
        "depth": depth,
        "page_kb": page_bytes / 1000,
        "page1": page1,
        "deep": deep,
        "walk": statistics.median(walk_times) * 1000 if walk_times else float("nan"),
        "count": count,
        "old_count": old_count,
        "old_page": old_page,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--db", default="bench_rest")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--walk", type=int, default=10, help="next links followed at depth")
    parser.add_argument("--keep", action="store_true", help="keep loaded rows; generate only missing objects")
    args = parser.parse_args()

    setup_django(args.db)
    from django.contrib.auth.models import User
    from django.test import Client

    fill(args.objects, args.keep)
    user, _ = User.objects.get_or_create(username="bench_rest_user")
    client = Client()
    client.force_login(user)

    results = [bench_endpoint(client, *endpoint, args.repeat, args.walk) for endpoint in ENDPOINTS]
    print()
    header = (
        f"{'endpoint':<16}{'rows':>12}{'depth':>12}{'page 1':>10}{'deep':>10}{'walk':>10}"
        f"{'count':>9}{'OFFSET':>11}{'COUNT(*)':>11}{'old/new':>9}{'page KB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = (r["old_page"] + r["old_count"]) / r["deep"]
        print(
            f"{r['endpoint']:<16}{r['rows']:>12,}{r['depth']:>12,}{r['page1']:>8.1f}ms{r['deep']:>8.1f}ms"
            f"{r['walk']:>8.1f}ms{r['count']:>7.2f}ms{r['old_page']:>9.1f}ms{r['old_count']:>9.1f}ms{ratio:>8.1f}x"
            f"{r['page_kb']:>9,.0f}"
        )
    print(
        "\npage 1 / deep / walk: median server time of a 100-row page (deep = ?after=<key> at the depth shown,"
        " walk = following `next` from there);\ncount: the O(1) counter lookup; OFFSET and COUNT(*): the old"
        " LimitOffsetPagination's two queries for the same deep page; old/new = (OFFSET + COUNT(*)) / deep."
    )
    worst_page = max(max(r["page1"], r["deep"], r["walk"]) for r in results)
    worst_count = max(r["count"] for r in results)
    print(
        f"targets: page p50 < 50 ms busy, < 30 ms idle (worst {worst_page:.1f} ms), count < 10 ms "
        f"(worst {worst_count:.2f} ms); " + "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    )


if __name__ == "__main__":
    main()
