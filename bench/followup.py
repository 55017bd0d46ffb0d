"""Benchmark: the follow-up API (/elasticc2/, README "Follow-up coordination") at 10^5 known objects
and 10^7 forced points, vs the per-object ORM queries the original ran.

    .venv/bin/python bench/followup.py [--objects 100000] [--forced 100] [--sources 10]
                                       [--wanted 10000] [--ltcv 1000] [--days 1000]
                                       [--repeat 5] [--naive-repeat 1] [--db bench_followup] [--keep]
                                       [--explain]

1. Fills a database of its own (default `bench_followup`, created and
   migrated; its ELAsTiCC and follow-up rows are emptied first, so never point
   it at production), set-based in SQL: `--objects` objects whose peaks are
   spread over `--days` days of survey from MJD 60000, each with `--sources`
   detections (t0-10 .. t0+35, one alert each) and `--forced` forced points
   (t0-40 .. t0+40), each object's rows written together in time order as
   the SNANA loader writes them, with seeded noise. The stream has reached MJD_NOW = 60000 + days: alerts of
   detections up to it are sent (alertsenttimestamp set), later ones are not,
   so the world knows every object (its forced photometry up to its latest
   sent alert). Then `--wanted` wanted spectra from two
   requesters on the most recently peaking objects, with 5% of them planned
   recently and 5% reported recently (left out by spectrawanted's defaults),
   and as many old plans that do not count.
2. Times in-process with Django's test client (a logged-in user; server time,
   no network), the median of `--repeat` requests after a warm-up:
   POST /elasticc2/gethottransients (detected_in_last_days=30,
   mjd_now=MJD_NOW) in the three return formats, POST /elasticc2/ltcv with
   `--ltcv` objectids in the three formats, POST /elasticc2/spectrawanted
   with its defaults and with lim_mag 23 in r (the wanted objects' latest
   magnitudes kept first, as askforspectrum keeps them), and with none kept
   (no target: what a request pays when every wanted object's alerts moved
   on through a path that did not keep them); and, from one more request
   each, how much of that time is SQL. `--explain` prints EXPLAIN ANALYZE of
   each endpoint's slowest statement.
3. Times, in the same run, the naive path the original took: per object, an
   ORM query for the object, one for its latest sent detection and one for
   its forced photometry (ltcv of the same objects; gethottransients after
   an ORM query for the recently detected objects), shaped in Python; checks
   it returns the same points and prints the ratio (`--naive-repeat 0` skips
   it). The load average is printed at the start, when timing starts and with
   the results: the machine is usually shared.

Targets (issue 14): gethottransients (30 days) and ltcv (1,000 objects) < 1 s;
spectrawanted with 10^4 wanted spectra < 300 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench_db import setup_django
from timing import execute, load_average, median_seconds, timed

BASE_DIR = Path(__file__).resolve().parent.parent
SURVEY_START = 60000.0
MJD_UNIX_EPOCH = 40587.0
REQUESTERS = ("RESSPECT", "bench-program")
HOT_TARGET, LTCV_TARGET, WANTED_TARGET = 1.0, 1.0, 0.3
TABLES = (
    "elasticc_wantedspectrum",
    "elasticc_plannedspectrum",
    "elasticc_spectruminfo",
    "elasticc_brokerclassification",
    "elasticc_brokermessage",
    "elasticc_diaforcedsource",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_diaalert",
    "elasticc_diasource",
    "elasticc_diaobject",
)
# Peak time of object i: spread evenly over the survey, in no relation to its id
# (the fractional part of i times the golden ratio).
T0 = "(%(start)s + %(days)s * (i * 0.6180339887498949 - floor(i * 0.6180339887498949)))"


def empty() -> None:
    execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    execute("DELETE FROM elasticc_rowcountdelta WHERE key LIKE 'elasticc_dia%%'")


def fill(args, mjd_now: float) -> None:
    n, s, f = args.objects, args.sources, args.forced
    p = {"n": n, "start": SURVEY_START, "days": args.days, "mjd_now": mjd_now, "epoch": MJD_UNIX_EPOCH}
    print(
        f"filling: {n:,} objects over {args.days:g} days, {n * s:,} detections and alerts (sent up to MJD "
        f"{mjd_now:g}), {n * f:,} forced points, {args.wanted:,} wanted spectra"
    )
    empty()
    execute("SELECT setseed(0.42)")  # the same noise every run
    # Each object's rows are written together, in time order, as the SNANA
    # loader writes them: a LATERAL subquery on the object (OFFSET 0 keeps the
    # planner from flattening it and putting the object loop inside). A plain
    # cross join of the two series interleaves the objects, spreading each
    # one's forced points over as many heap pages as it has points.
    timed(
        "objects",
        execute,
        "INSERT INTO elasticc_diaobject (diaobjectid, ra, decl, isddf, hostgal_zphot, hostgal_mag_r, "
        "hostgal_magerr_r, hostgal_snsep) "
        "SELECT i, random() * 360, degrees(asin(2 * random() - 1)), false, random(), 20 + 4 * random(), 0.05, "
        "random() FROM generate_series(1, %(n)s) i",
        p,
    )
    # Peak magnitude 20..23.5, a Gaussian light curve of width 15 days, noise 300 nJy.
    flux = "10 ^ ((31.4 - (20 + 3.5 * ((i * 0.7548776662466927) - floor(i * 0.7548776662466927)))) / 2.5)"
    timed(
        "detections",
        execute,
        f"INSERT INTO elasticc_diasource (diasourceid, diaobjectid, midpointtai, filtername, ra, decl, "
        f"psflux, psfluxerr, snr) "
        f"SELECT i::bigint * 1000 + tt.j, i, tt.t, (ARRAY['u','g','r','i','z','Y'])[1 + (i + tt.j) %% 6], "
        f"0, 0, fl, 300, fl / 300 FROM generate_series(1, %(n)s) i "
        f"CROSS JOIN LATERAL (SELECT j, {T0} - 10 + 45.0 * j / greatest(%(s)s - 1, 1) AS t "
        f"                    FROM generate_series(0, %(s)s - 1) j OFFSET 0) tt "
        f"CROSS JOIN LATERAL (SELECT {flux} * exp(-(((tt.t - {T0}) / 15) ^ 2)) + 300 AS fl) ff",
        {**p, "s": s},
    )
    timed(
        "alerts (sent up to MJD_NOW)",
        execute,
        "INSERT INTO elasticc_diaalert (alertid, diasourceid, diaobjectid, alertsenttimestamp) "
        "SELECT diasourceid, diasourceid, diaobjectid, CASE WHEN midpointtai <= %(mjd_now)s THEN "
        "to_timestamp((midpointtai - %(epoch)s) * 86400 + 60) END FROM elasticc_diasource",
        p,
    )
    timed(
        "forced points",
        execute,
        f"INSERT INTO elasticc_diaforcedsource (diaforcedsourceid, diaobjectid, midpointtai, filtername, "
        f"psflux, psfluxerr) "
        f"SELECT i::bigint * 100000 + k, i, t, (ARRAY['u','g','r','i','z','Y'])[1 + (i + k) %% 6], "
        f"{flux} * exp(-(((t - {T0}) / 15) ^ 2)) + 300 * (random() + random() + random() - 1.5) * 2, 300 "
        f"FROM generate_series(1, %(n)s) i "
        f"CROSS JOIN LATERAL (SELECT k, {T0} - 40 + 80.0 * k / %(f)s AS t "
        f"                    FROM generate_series(0, %(f)s - 1) k OFFSET 0) tt",
        {**p, "f": f},
    )
    # Wanted: the most recently peaking objects (up to MJD_NOW), one row per requester.
    per = -(-args.wanted // len(REQUESTERS))
    timed(
        "wanted spectra",
        execute,
        f"""
        WITH recent AS (
            SELECT i FROM generate_series(1, %(n)s) i WHERE {T0} <= %(mjd_now)s ORDER BY {T0} DESC LIMIT %(per)s
        )
        INSERT INTO elasticc_wantedspectrum (diaobjectid, requester, priority, wanttime)
        SELECT i, r, (i + length(r)) %% 6, now() - make_interval(secs => random() * 10 * 86400)
        FROM recent, unnest(%(requesters)s::text[]) r LIMIT %(wanted)s
        """,
        {**p, "per": per, "requesters": list(REQUESTERS), "wanted": args.wanted},
    )
    timed(
        "plans (5% recent, 5% old) and reports (5% recent)",
        execute,
        """
        WITH objs AS (SELECT DISTINCT diaobjectid FROM elasticc_wantedspectrum),
        p1 AS (
            INSERT INTO elasticc_plannedspectrum (diaobjectid, facility, plantime, comment, created_at)
            SELECT diaobjectid, 'Keck', now() + interval '2 days', 'bench', now() - interval '1 day'
            FROM objs WHERE diaobjectid %% 20 = 1 RETURNING 1
        ),
        p2 AS (
            INSERT INTO elasticc_plannedspectrum (diaobjectid, facility, plantime, comment, created_at)
            SELECT diaobjectid, 'SOAR', now() - interval '28 days', 'bench', now() - interval '30 days'
            FROM objs WHERE diaobjectid %% 20 = 2 RETURNING 1
        )
        INSERT INTO elasticc_spectruminfo (diaobjectid, facility, mjd, z, classid)
        SELECT diaobjectid, 'Gemini', %(mjd_now)s - 2, 0.1, 2222 FROM objs WHERE diaobjectid %% 20 = 3
        """,
        p,
    )
    execute("SELECT elasticc_compact_rowcounts()")
    for table in ("elasticc_diaobject", "elasticc_diasource", "elasticc_diaalert", "elasticc_diaforcedsource"):
        timed(f"VACUUM ANALYZE {table}", execute, f"VACUUM ANALYZE {table}")
    execute("ANALYZE elasticc_wantedspectrum, elasticc_plannedspectrum, elasticc_spectruminfo")


@contextlib.contextmanager
def nothing_kept(active: bool) -> Iterator[None]:
    """With `active`, spectrawanted finds no kept magnitudes (as for objects
    whose alerts moved on since, through a path that did not keep them):
    they are deleted in a transaction rolled back afterwards."""
    if not active:
        yield
        return
    from django.db import transaction

    with transaction.atomic():
        execute("DELETE FROM elasticc_latestmagnitudes")
        yield
        transaction.set_rollback(True)


def post(client, path: str, body: dict) -> bytes:
    """The whole answer: a streamed one is read to its end, so the time is
    the server's until the last byte."""
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.status_code != 200:
        raise SystemExit(f"{path} {body}: HTTP {response.status_code} {content[:300]!r}")
    return content


def sql_share(client, path: str, body: dict, explain: bool) -> float:
    """One more request with its queries captured: the SQL time (s); with
    `explain`, EXPLAIN ANALYZE of the slowest statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        post(client, path, body)
    if explain and queries.captured_queries:
        slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
        print(f"\nEXPLAIN ANALYZE of the slowest statement of {path} ({float(slowest['time']) * 1000:.0f} ms):")
        for (line,) in execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"]):
            print("   ", line)
        print()
    return sum(float(q["time"]) for q in queries.captured_queries)


def points(answer, return_format: int) -> tuple[int, int]:
    """(objects, points) of a light-curve answer."""
    if return_format == 2:
        return len(answer["objectid"]), sum(map(len, answer["mjd"]))
    key = (lambda o: o["photometry"]["mjd"]) if return_format == 0 else (lambda o: o["mjd"])
    return len(answer), sum(len(key(o)) for o in answer)


def naive_light_curves(objectids, mjd_now: float) -> bytes:
    """The original's way: three ORM queries per object, shaped in Python."""
    import orjson
    from django.db.models import Max

    from elasticc.models import DiaForcedSource, DiaObject, DiaSource

    out = []
    for oid in objectids:
        obj = DiaObject.objects.get(pk=oid)
        horizon = DiaSource.objects.filter(
            diaobject_id=oid, midpointtai__lte=mjd_now, diaalert__alertsenttimestamp__isnull=False
        ).aggregate(h=Max("midpointtai"))["h"]
        if horizon is None:
            continue
        phot = {"mjd": [], "band": [], "flux": [], "fluxerr": []}
        for fs in DiaForcedSource.objects.filter(diaobject_id=oid, midpointtai__lte=horizon).order_by(
            "midpointtai", "diaforcedsourceid"
        ):
            phot["mjd"].append(fs.midpointtai)
            phot["band"].append(fs.filtername)
            phot["flux"].append(fs.psflux)
            phot["fluxerr"].append(fs.psfluxerr)
        shaped = {"objectid": oid, "ra": obj.ra, "dec": obj.decl, "zp": 31.4, "redshift": -99, "sncode": -99}
        out.append({**shaped, "photometry": phot})
    return orjson.dumps({"status": "ok", "diaobject": out})


def naive_hot(since: float, mjd_now: float) -> bytes:
    from elasticc.models import DiaSource

    ids = list(
        DiaSource.objects.filter(
            midpointtai__gte=since, midpointtai__lte=mjd_now, diaalert__alertsenttimestamp__isnull=False
        )
        .order_by("diaobject_id")
        .values_list("diaobject_id", flat=True)
        .distinct()
    )
    return naive_light_curves(ids, mjd_now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--forced", type=int, default=100, help="forced points per object (at most 100,000)")
    parser.add_argument("--sources", type=int, default=10, help="detections (= alerts) per object (at most 1,000)")
    parser.add_argument("--wanted", type=int, default=10_000, help="wanted spectra (two requesters)")
    parser.add_argument("--ltcv", type=int, default=1_000, help="objects per ltcv request")
    parser.add_argument("--days", type=float, default=1000.0, help="survey length; the stream is at its end")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-repeat", type=int, default=1, help="runs of each naive path (median; 0 skips them)")
    parser.add_argument("--db", default="bench_followup")
    parser.add_argument("--keep", action="store_true", help="keep the data (and skip the fill if it is there)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each endpoint's slowest statement")
    args = parser.parse_args()
    setup_django(args.db)

    from django.contrib.auth.models import User
    from django.test import Client

    from elasticc.followup.selectors import known_world
    from elasticc.followup.services import keep_latest_magnitudes

    mjd_now = SURVEY_START + args.days
    print(load_average())
    filled = args.keep and execute("SELECT count(*) FROM elasticc_diaobject")[0][0] == args.objects
    if filled:
        print(f"reusing the {args.objects:,} objects already in {args.db}")
    else:
        fill(args, mjd_now)
    world, _ = timed("known_world(mjd_now)", known_world, mjd_now=mjd_now)
    # What askforspectrum does for the objects asked (and sending alerts for
    # wanted objects): keep their latest magnitudes at their horizon now.
    wanted_ids = [row[0] for row in execute("SELECT DISTINCT diaobjectid FROM elasticc_wantedspectrum")]
    timed(
        f"keep_latest_magnitudes of the {len(wanted_ids):,} wanted objects",
        keep_latest_magnitudes,
        objectids=wanted_ids,
        unit="ms",
    )
    (wanted_rows,) = execute("SELECT count(*) FROM elasticc_wantedspectrum")[0]
    print(
        f"the world knows {world.objects:,} objects, {world.detections:,} detections, {world.forced:,} forced "
        f"points; {wanted_rows:,} wanted spectra"
    )

    user, _ = User.objects.get_or_create(username="bench_followup_user")
    client = Client()
    client.force_login(user)
    step = max(args.objects // args.ltcv, 1)
    ltcv_ids = [row[0] for row in execute(
        "SELECT diaobjectid FROM elasticc_diaobject WHERE diaobjectid %% %s = 0 ORDER BY diaobjectid LIMIT %s",
        [step, args.ltcv],
    )]  # fmt: skip
    hot_body = {"detected_in_last_days": 30, "mjd_now": mjd_now}
    requests = [
        *((f"gethottransients 30 days, format {fmt}", "/elasticc2/gethottransients",
           {**hot_body, "return_format": fmt}, HOT_TARGET) for fmt in (0, 1, 2)),
        *((f"ltcv {len(ltcv_ids):,} objects, format {fmt}", "/elasticc2/ltcv",
           {"objectids": ltcv_ids, "mjd_now": mjd_now, "return_format": fmt}, LTCV_TARGET) for fmt in (0, 1, 2)),
        ("ltcv, include_hostinfo", "/elasticc2/ltcv",
         {"objectids": ltcv_ids, "mjd_now": mjd_now, "include_hostinfo": 1}, LTCV_TARGET),
        ("spectrawanted, defaults", "/elasticc2/spectrawanted", {"mjd_now": mjd_now}, WANTED_TARGET),
        ("spectrawanted, lim_mag 23 r", "/elasticc2/spectrawanted",
         {"mjd_now": mjd_now, "lim_mag": 23, "lim_mag_band": "r"}, WANTED_TARGET),
        ("spectrawanted, none kept", "/elasticc2/spectrawanted", {"mjd_now": mjd_now}, None),
    ]  # fmt: skip

    print(f"\nendpoints (server time, median of {args.repeat} after a warm-up; {load_average()}):", flush=True)
    results = []
    for label, path, body, target in requests:
        content = post(client, path, body)
        answer = json.loads(content)
        if "diaobject" in answer:
            fmt = body.get("return_format", 0)
            n_obj, n_pts = points(answer["diaobject"], fmt)
            size = f"{n_obj:,} objects, {n_pts:,} points"
        else:
            n_obj, n_pts = len(answer["wantedspectra"]), 0
            size = f"{n_obj:,} wanted spectra"
        with nothing_kept(target is None):
            seconds = median_seconds(lambda p=path, b=body: post(client, p, b), args.repeat)
            sql = sql_share(client, path, body, args.explain)
        results.append((label, seconds, target, size, len(content), sql, n_pts))
        print(
            f"  {label:<36} {seconds * 1000:8.1f} ms  (SQL {sql * 1000:6.1f} ms)  {size}, {len(content) / 1e6:,.2f} MB",
            flush=True,
        )

    if args.naive_repeat:
        print(f"\nnaive: three ORM queries per object, shaped in Python (median of {args.naive_repeat}):", flush=True)
    ltcv_fast = next(r for r in results if r[0].startswith("ltcv") and r[0].endswith("format 0"))
    hot_fast = results[0]
    naive = {}
    for label, func, fast in (
        (f"ltcv {len(ltcv_ids):,} objects", lambda: naive_light_curves(ltcv_ids, mjd_now), ltcv_fast),
        ("gethottransients 30 days", lambda: naive_hot(mjd_now - 30, mjd_now), hot_fast),
    )[: 2 if args.naive_repeat else 0]:
        body = func()
        runs = []
        for _ in range(args.naive_repeat):
            start = time.perf_counter()
            func()
            runs.append(time.perf_counter() - start)
        seconds = statistics.median(runs)
        n_pts = points(json.loads(body)["diaobject"], 0)[1]
        if n_pts != fast[6]:
            raise SystemExit(f"naive {label}: {n_pts:,} points, the endpoint {fast[6]:,}")
        naive[label] = (seconds, fast[1])
        print(f"  {label:<36} {seconds * 1000:8.1f} ms  (same {n_pts:,} points)", flush=True)

    print(f"\nresult ({load_average()}; {world.objects:,} known objects, {world.forced:,} known forced points):")
    ok = True
    for label, seconds, target, size, nbytes, sql, _ in results:
        met = target is None or seconds < target
        ok &= met
        verdict = "(no target)" if target is None else f"target < {target * 1000:,.0f} ms {'ok' if met else 'MISSED'}"
        print(
            f"  {label:<36} {seconds * 1000:8.1f} ms  {verdict}"
            f"   [{size}, {nbytes / 1e6:,.2f} MB, SQL {sql * 1000:,.0f} ms]"
        )
    for label, (slow, fast) in naive.items():
        print(f"  naive {label:<30} {slow * 1000:8.1f} ms  = {slow / fast:,.1f}x the endpoint (format 0)")
    if not args.keep:
        empty()
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
