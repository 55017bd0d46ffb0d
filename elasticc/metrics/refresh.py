"""Classifier metrics against truth: the SQL that maintains the aggregate
tables of migration 0005, in one place (`elasticc.metrics.readers` reads them).

Why it works this way: the pages must render in well under a second with
10^8 classifications, so no page request aggregates a big table. Instead
`refresh_metrics` folds the broker messages stored since its last run into
small aggregate tables, set-based (a handful of INSERT ... SELECT ... ON
CONFLICT DO UPDATE statements per chunk of messages, never a loop per row),
and the page readers only touch those tables.

Incremental and exact:
- The watermark is `brokermessageid` (`elasticc_metricsstate.messages_upto`).
  Ids come from a sequence, so a transaction that allocated a lower id can
  commit after one with a higher id. Before choosing the upper bound the
  refresh takes a brief SHARE lock on the message and classification tables:
  it waits for the ingest transactions in flight (and holds off new ones for
  the few milliseconds it takes to read max(brokermessageid)), so every id up
  to the bound is committed or gone for good, and later ids are higher.
  Messages and their classifications commit together
  (`elasticc.brokers.storage.store_broker_messages`).
- Each chunk of messages is processed and the watermark advanced in one
  transaction, so an interrupted refresh loses nothing and counts nothing
  twice. Refreshes are serialised by a row lock that a refresh holds on a
  connection of its own (`MetricsRefreshLock`; not an advisory lock, which any
  database user could take first); a second one running at the same time
  returns at once (`skipped`).
- Confusion matrices count objects, by the prediction of the latest
  classification of each object (by alert sent time) or the best one (highest
  top probability over all its alerts). `elasticc_metricsobject` keeps that
  state per (classifier, object), so when a later alert changes an object's
  prediction the matrix moves the object from one cell to the other. It also
  keeps each object's first and last detection MJD and number of detections,
  recounted when a message about the object is processed, for the object
  browser's filters.
- Taxonomy: each classifier is evaluated in its `evaluatedtaxonomy`. Its
  classifications with a classId outside that taxonomy are stored (brokers
  answer as they were told) but counted in `metricsclassifier.noutside` and
  left out of predictions, confusion matrices and true-class probabilities;
  the message still counts for messages, delays and completeness. Changing a
  classifier's taxonomy needs a `full` refresh (`set_classifier_taxonomy`
  runs one).
- True class: the object truth's gentype through `elasticc_gentypeofclassid`
  of the classifier's taxonomy (exact level), looked up when a message about
  the object is processed; truth loaded after the classifications needs a
  `full` refresh.
- Sent alerts per day (the completeness denominator) and per (day, simulated
  night) (the stream status page) are recounted from the start of the day of
  the last sent alert seen, through the index on `alertsenttimestamp`;
  messages per classifier and simulated night (floor of the MJD of the
  alert's source) are folded in with each chunk.

Deployment: `manage.py refresh_elasticc_metrics` (cron, e.g. every few
minutes), or `refresh_metrics()` after each committed batch of broker
messages; `--full` rebuilds everything from scratch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import OperationalError, connection, transaction

from elasticc.postgres.connections import connect

DEFAULT_CHUNK = 200_000
LOCK_TIMEOUT = "10s"
# Delay histogram bins: 10 per decade of seconds, from 10^-2 s to 10^7 s.
DELAY_BIN_MIN, DELAY_BIN_MAX, BINS_PER_DECADE = -20, 70, 10
DELAY_KINDS = {0: "broker", 1: "ours", 2: "total"}
MAX_DAYS_SINCE_DETECTION = 1000
MODES = {"latest": 0, "best": 1}
AGGREGATE_TABLES = (
    "elasticc_metricsclassifier",
    "elasticc_metricsobject",
    "elasticc_metricsconfusion",
    "elasticc_metricsdelay",
    "elasticc_metricsclassified",
    "elasticc_metricsalertsday",
    "elasticc_metricstrueprob",
    "elasticc_metricsalertsnight",
    "elasticc_metricsmessagesnight",
)


@dataclass(frozen=True)
class RefreshResult:
    skipped: bool
    messages: int
    classifications: int
    messages_upto: int
    as_of: datetime | None


# --- refresh -------------------------------------------------------------------------------

BATCH_SQL = [
    # The classifications of the chunk (index range scan on each partition),
    # each with its classifier's taxonomy and whether its classId is in it.
    """
    CREATE TEMP TABLE _mca ON COMMIT DROP AS
    SELECT c.classifierid, c.brokermessageid, c.classid, c.probability, k.evaluatedtaxonomy AS taxonomy,
           t.classid IS NOT NULL AS inside
    FROM elasticc_brokerclassification c
    JOIN elasticc_brokerclassifier k ON k.classifierid = c.classifierid
    LEFT JOIN elasticc_classid t ON t.taxonomy = k.evaluatedtaxonomy AND t.classid = c.classid
    WHERE c.brokermessageid > %(lo)s AND c.brokermessageid <= %(hi)s
    """,
    "CREATE TEMP TABLE _mc ON COMMIT DROP AS SELECT * FROM _mca WHERE inside",
    "ANALYZE _mc",
    """
    INSERT INTO elasticc_metricsclassifier AS t (classifierid, noutside)
    SELECT classifierid, count(*) FROM _mca WHERE NOT inside GROUP BY classifierid
    ON CONFLICT (classifierid) DO UPDATE SET noutside = t.noutside + EXCLUDED.noutside
    """,
    # One row per (classifier, message): its top class in the taxonomy (null
    # when it gave none there) and the alert it is about.
    """
    CREATE TEMP TABLE _mm ON COMMIT DROP AS
    WITH top AS (
        SELECT DISTINCT ON (classifierid, brokermessageid) classifierid, brokermessageid, classid, probability
        FROM _mc ORDER BY classifierid, brokermessageid, probability DESC, classid
    ), msgs AS (
        SELECT DISTINCT classifierid, brokermessageid, taxonomy FROM _mca
    )
    SELECT g.classifierid, g.brokermessageid, g.taxonomy, t.classid AS topclass, t.probability AS topprob,
           m.alertid, m.msghdrtimestamp AS hdr, m.descingesttimestamp AS ingest,
           m.elasticcpublishtimestamp AS pub, a.diaobjectid, a.diasourceid, a.alertsenttimestamp AS sent
    FROM msgs g
    LEFT JOIN top t ON t.classifierid = g.classifierid AND t.brokermessageid = g.brokermessageid
    JOIN elasticc_brokermessage m ON m.brokermessageid = g.brokermessageid
    LEFT JOIN elasticc_diaalert a ON a.alertid = m.alertid
    """,
    "ANALYZE _mm",
    # Per object and taxonomy: true class (exact level) and the time of first detection.
    """
    CREATE TEMP TABLE _mo ON COMMIT DROP AS
    SELECT o.diaobjectid, o.taxonomy,
           (SELECT min(g.classid) FROM elasticc_diaobjecttruth ot
              JOIN elasticc_gentypeofclassid g ON g.gentype = ot.gentype AND g.taxonomy = o.taxonomy
             WHERE ot.diaobjectid = o.diaobjectid) AS trueclassid,
           d.firstdet, d.lastdet, d.ndet
    FROM (SELECT DISTINCT diaobjectid, taxonomy FROM _mm WHERE diaobjectid IS NOT NULL) o
    CROSS JOIN LATERAL (
        SELECT min(s.midpointtai) AS firstdet, max(s.midpointtai) AS lastdet, count(*)::integer AS ndet
        FROM elasticc_diasource s WHERE s.diaobjectid = o.diaobjectid
    ) d
    """,
    "ANALYZE _mo",
    """
    CREATE TEMP TABLE _m ON COMMIT DROP AS
    SELECT mm.*, mo.trueclassid, mo.firstdet, mo.lastdet, mo.ndet,
           CASE WHEN mo.trueclassid IS NOT NULL AND mm.topclass IS NOT NULL THEN COALESCE(tc.probability, 0)
           END AS trueprob,
           floor(s.midpointtai - mo.firstdet)::integer AS days,
           floor(s.midpointtai)::integer AS night
    FROM _mm mm
    LEFT JOIN _mo mo ON mo.diaobjectid = mm.diaobjectid AND mo.taxonomy = mm.taxonomy
    LEFT JOIN _mc tc ON tc.classifierid = mm.classifierid AND tc.brokermessageid = mm.brokermessageid
                    AND tc.classid = mo.trueclassid
    LEFT JOIN elasticc_diasource s ON s.diasourceid = mm.diasourceid
    """,
    "ANALYZE _m",
    # Alerts classified by a classifier for the first time in this chunk.
    """
    CREATE TEMP TABLE _fresh ON COMMIT DROP AS
    SELECT p.classifierid, p.alertid, p.sent
    FROM (SELECT DISTINCT classifierid, alertid, sent FROM _m) p
    WHERE NOT EXISTS (
        SELECT 1 FROM elasticc_brokermessage m2
        JOIN elasticc_brokerclassification c2
          ON c2.brokermessageid = m2.brokermessageid AND c2.classifierid = p.classifierid
        WHERE m2.alertid = p.alertid AND m2.brokermessageid <= %(lo)s
    )
    """,
    """
    INSERT INTO elasticc_metricsclassifier AS t (classifierid, nmessages, nalerts, firstingest, lastingest)
    SELECT m.classifierid, count(*), COALESCE(max(f.n), 0), min(m.ingest), max(m.ingest)
    FROM _m m
    LEFT JOIN (SELECT classifierid, count(*) AS n FROM _fresh GROUP BY classifierid) f USING (classifierid)
    GROUP BY m.classifierid
    ON CONFLICT (classifierid) DO UPDATE SET
        nmessages = t.nmessages + EXCLUDED.nmessages,
        nalerts = t.nalerts + EXCLUDED.nalerts,
        firstingest = LEAST(t.firstingest, EXCLUDED.firstingest),
        lastingest = GREATEST(t.lastingest, EXCLUDED.lastingest)
    """,
    """
    INSERT INTO elasticc_metricsclassified AS t (classifierid, day, nalerts)
    SELECT classifierid, (sent AT TIME ZONE 'UTC')::date, count(*)
    FROM _fresh WHERE sent IS NOT NULL GROUP BY 1, 2
    ON CONFLICT (classifierid, day) DO UPDATE SET nalerts = t.nalerts + EXCLUDED.nalerts
    """,
    f"""
    INSERT INTO elasticc_metricsdelay AS t (classifierid, day, kind, bin, n)
    SELECT classifierid, day, kind, bin, count(*) FROM (
        SELECT m.classifierid, (m.ingest AT TIME ZONE 'UTC')::date AS day, k.kind,
               LEAST(GREATEST(floor({BINS_PER_DECADE} * log(GREATEST(date_part('epoch', k.d), 0.01)))::int,
                              {DELAY_BIN_MIN}), {DELAY_BIN_MAX}) AS bin
        FROM _m m
        CROSS JOIN LATERAL (VALUES (0, m.hdr - m.sent), (1, m.ingest - m.hdr), (2, m.ingest - m.sent)) AS k(kind, d)
        WHERE k.d IS NOT NULL
    ) x
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (classifierid, day, kind, bin) DO UPDATE SET n = t.n + EXCLUDED.n
    """,
    # Messages per simulated night of the alert they answer (the stream status page).
    """
    INSERT INTO elasticc_metricsmessagesnight AS t (classifierid, night, n)
    SELECT classifierid, night, count(*) FROM _m WHERE night IS NOT NULL GROUP BY 1, 2
    ON CONFLICT (classifierid, night) DO UPDATE SET n = t.n + EXCLUDED.n
    """,
    f"""
    INSERT INTO elasticc_metricstrueprob AS t (classifierid, trueclassid, days, n, sump, sump2)
    SELECT classifierid, trueclassid, LEAST(GREATEST(days, 0), {MAX_DAYS_SINCE_DETECTION}),
           count(*), sum(trueprob), sum(trueprob * trueprob)
    FROM _m WHERE trueprob IS NOT NULL AND days IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT (classifierid, trueclassid, days) DO UPDATE SET
        n = t.n + EXCLUDED.n, sump = t.sump + EXCLUDED.sump, sump2 = t.sump2 + EXCLUDED.sump2
    """,
    # Latest and best prediction per (classifier, object) in this chunk ...
    """
    CREATE TEMP TABLE _ob ON COMMIT DROP AS
    WITH latest AS (
        SELECT DISTINCT ON (classifierid, diaobjectid) classifierid, diaobjectid, trueclassid,
               firstdet, lastdet, ndet, COALESCE(sent, pub, ingest) AS lat, brokermessageid AS lmsg,
               topclass AS lclass, topprob AS lprob
        FROM _m WHERE diaobjectid IS NOT NULL AND topclass IS NOT NULL
        ORDER BY classifierid, diaobjectid, COALESCE(sent, pub, ingest) DESC, brokermessageid DESC
    ), best AS (
        SELECT DISTINCT ON (classifierid, diaobjectid) classifierid, diaobjectid,
               brokermessageid AS bmsg, topclass AS bclass, topprob AS bprob
        FROM _m WHERE diaobjectid IS NOT NULL AND topclass IS NOT NULL
        ORDER BY classifierid, diaobjectid, topprob DESC, brokermessageid
    )
    SELECT l.*, b.bmsg, b.bclass, b.bprob FROM latest l JOIN best b USING (classifierid, diaobjectid)
    """,
    # ... merged with the stored state: the old and the new cell of each object.
    """
    CREATE TEMP TABLE _os ON COMMIT DROP AS
    SELECT classifierid, diaobjectid, old_true, old_latest, old_best, firstdet, lastdet, ndet,
           COALESCE(new_true, old_true) AS trueclassid,
           CASE WHEN lnew THEN lat ELSE o_lat END AS latest_at,
           CASE WHEN lnew THEN lmsg ELSE o_lmsg END AS latest_msgid,
           CASE WHEN lnew THEN lclass ELSE old_latest END AS latest_classid,
           CASE WHEN lnew THEN lprob ELSE o_lprob END AS latest_prob,
           CASE WHEN bnew THEN bmsg ELSE o_bmsg END AS best_msgid,
           CASE WHEN bnew THEN bclass ELSE old_best END AS best_classid,
           CASE WHEN bnew THEN bprob ELSE o_bprob END AS best_prob
    FROM (
        SELECT n.*, n.trueclassid AS new_true, o.trueclassid AS old_true,
               o.latest_at AS o_lat, o.latest_msgid AS o_lmsg, o.latest_classid AS old_latest,
               o.latest_prob AS o_lprob, o.best_msgid AS o_bmsg, o.best_classid AS old_best,
               o.best_prob AS o_bprob,
               (o.diaobjectid IS NULL OR (n.lat, n.lmsg) > (o.latest_at, o.latest_msgid)) AS lnew,
               (o.diaobjectid IS NULL OR n.bprob > o.best_prob) AS bnew
        FROM _ob n
        LEFT JOIN elasticc_metricsobject o ON o.classifierid = n.classifierid AND o.diaobjectid = n.diaobjectid
    ) x
    """,
    # Objects predicted for the first time (no stored state yet): "objects classified".
    """
    INSERT INTO elasticc_metricsclassifier AS t (classifierid, nobjects)
    SELECT classifierid, count(*) FROM _os WHERE old_latest IS NULL GROUP BY classifierid
    ON CONFLICT (classifierid) DO UPDATE SET nobjects = t.nobjects + EXCLUDED.nobjects
    """,
    """
    INSERT INTO elasticc_metricsconfusion AS t (classifierid, mode, trueclassid, predclassid, n)
    SELECT classifierid, mode, tc, pc, sum(d) FROM (
        SELECT classifierid, 0 AS mode, old_true AS tc, old_latest AS pc, -1 AS d FROM _os WHERE old_true IS NOT NULL
        UNION ALL SELECT classifierid, 1, old_true, old_best, -1 FROM _os WHERE old_true IS NOT NULL
        UNION ALL SELECT classifierid, 0, trueclassid, latest_classid, 1 FROM _os WHERE trueclassid IS NOT NULL
        UNION ALL SELECT classifierid, 1, trueclassid, best_classid, 1 FROM _os WHERE trueclassid IS NOT NULL
    ) x
    GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0
    ON CONFLICT (classifierid, mode, trueclassid, predclassid) DO UPDATE SET n = t.n + EXCLUDED.n
    """,
    "DELETE FROM elasticc_metricsconfusion WHERE n = 0",
    """
    INSERT INTO elasticc_metricsobject AS t (classifierid, diaobjectid, trueclassid, latest_at, latest_msgid,
                                             latest_classid, latest_prob, best_msgid, best_classid, best_prob,
                                             firstdet, lastdet, ndet)
    SELECT classifierid, diaobjectid, trueclassid, latest_at, latest_msgid, latest_classid, latest_prob,
           best_msgid, best_classid, best_prob, firstdet, lastdet, ndet
    FROM _os
    ON CONFLICT (classifierid, diaobjectid) DO UPDATE SET
        firstdet = EXCLUDED.firstdet, lastdet = EXCLUDED.lastdet, ndet = EXCLUDED.ndet,
        trueclassid = EXCLUDED.trueclassid, latest_at = EXCLUDED.latest_at,
        latest_msgid = EXCLUDED.latest_msgid, latest_classid = EXCLUDED.latest_classid,
        latest_prob = EXCLUDED.latest_prob, best_msgid = EXCLUDED.best_msgid,
        best_classid = EXCLUDED.best_classid, best_prob = EXCLUDED.best_prob
    """,
]

# Per (sent day, simulated night): one pass over the alerts sent since the
# start of the day of the last one seen (index on alertsenttimestamp), each
# joined to its source for the night; per day is the sum over nights.
ALERTS_DAY_SQL = """
WITH c AS (
    SELECT (a.alertsenttimestamp AT TIME ZONE 'UTC')::date AS day, floor(s.midpointtai)::integer AS night,
           count(*) AS n, max(a.alertsenttimestamp) AS mx
    FROM elasticc_diaalert a LEFT JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid
    WHERE a.alertsenttimestamp >= %(since)s GROUP BY 1, 2
), days AS (
    INSERT INTO elasticc_metricsalertsday (day, nsent) SELECT day, sum(n) FROM c GROUP BY day
), nights AS (
    INSERT INTO elasticc_metricsalertsnight (day, night, nsent) SELECT day, night, n FROM c WHERE night IS NOT NULL
)
UPDATE elasticc_metricsstate SET alerts_sent_upto = (SELECT max(mx) FROM c) WHERE id = 1
"""


def _lock_upper_bound(cursor) -> int | None:
    """max(brokermessageid) once no ingest transaction is in flight (see the
    module docstring), or None when the lock is not granted in time."""
    try:
        with transaction.atomic():
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute("LOCK TABLE elasticc_brokermessage, elasticc_brokerclassification IN SHARE MODE")
            cursor.execute("SELECT COALESCE(max(brokermessageid), 0) FROM elasticc_brokermessage")
            return int(cursor.fetchone()[0])
    except OperationalError:
        return None


def _next_chunk_end(cursor, *, lo: int, hi: int, chunk_size: int) -> int:
    cursor.execute(
        "SELECT brokermessageid FROM elasticc_brokermessage WHERE brokermessageid > %s AND brokermessageid <= %s "
        "ORDER BY brokermessageid OFFSET %s LIMIT 1",
        [lo, hi, chunk_size - 1],
    )
    row = cursor.fetchone()
    return int(row[0]) if row else hi


def _refresh_alerts_per_day(cursor) -> None:
    with transaction.atomic():
        cursor.execute("SELECT alerts_sent_upto FROM elasticc_metricsstate WHERE id = 1 FOR UPDATE")
        upto = cursor.fetchone()[0]
        cursor.execute("SELECT max(alertsenttimestamp) FROM elasticc_diaalert")
        newest = cursor.fetchone()[0]
        if newest is None or (upto is not None and newest <= upto):
            return
        since = datetime(1, 1, 1, tzinfo=UTC) if upto is None else _utc_day_start(upto)
        cursor.execute("DELETE FROM elasticc_metricsalertsday WHERE day >= %s", [since.date()])
        cursor.execute("DELETE FROM elasticc_metricsalertsnight WHERE day >= %s", [since.date()])
        cursor.execute(ALERTS_DAY_SQL, {"since": since})


def _utc_day_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _reset(cursor) -> None:
    with transaction.atomic():
        cursor.execute("TRUNCATE " + ", ".join(AGGREGATE_TABLES))
        cursor.execute("UPDATE elasticc_metricsstate SET messages_upto = 0, alerts_sent_upto = NULL WHERE id = 1")
        cursor.execute("DELETE FROM elasticc_metricstruthcount")
        cursor.execute(
            "INSERT INTO elasticc_metricstruthcount (gentype, n) "
            "SELECT gentype, count(*) FROM elasticc_diaobjecttruth GROUP BY gentype"
        )


@contextmanager
def _refresh_lock() -> Iterator[bool]:
    """Whether this refresh holds the refresh lock (held until the block ends)."""
    with connect(autocommit=True) as conn:
        conn.execute("INSERT INTO elasticc_metricsrefreshlock (id) VALUES (1) ON CONFLICT DO NOTHING")
        with conn.transaction():
            row = conn.execute("SELECT 1 FROM elasticc_metricsrefreshlock WHERE id = 1 FOR UPDATE SKIP LOCKED")
            yield row.fetchone() is not None


def refresh_metrics(*, full: bool = False, chunk_size: int = DEFAULT_CHUNK) -> RefreshResult:
    """Fold broker messages stored since the last refresh into the aggregate
    tables (all of them again with `full`), then recount sent alerts per day.

    Call it outside any transaction (after the caller's commit): it commits
    one transaction per chunk of `chunk_size` messages.
    """
    if connection.in_atomic_block:
        raise RuntimeError("refresh_metrics commits per chunk: call it after your transaction has committed")
    with _refresh_lock() as locked, connection.cursor() as cursor:
        if not locked:
            return RefreshResult(skipped=True, messages=0, classifications=0, messages_upto=-1, as_of=None)
        cursor.execute("INSERT INTO elasticc_metricsstate (id) VALUES (1) ON CONFLICT DO NOTHING")
        if full:
            _reset(cursor)
        cursor.execute("SELECT messages_upto FROM elasticc_metricsstate WHERE id = 1")
        lo = int(cursor.fetchone()[0])
        hi = _lock_upper_bound(cursor)
        messages = classifications = 0
        while hi is not None and lo < hi:
            end = _next_chunk_end(cursor, lo=lo, hi=hi, chunk_size=chunk_size)
            with transaction.atomic():
                for statement in BATCH_SQL:
                    cursor.execute(statement, {"lo": lo, "hi": end})
                cursor.execute("SELECT count(DISTINCT brokermessageid), count(*) FROM _mca")
                n_msg, n_cls = cursor.fetchone()
                cursor.execute(
                    "UPDATE elasticc_metricsstate SET messages_upto = %s, refreshed_at = now() WHERE id = 1",
                    [end],
                )
            messages += n_msg
            classifications += n_cls
            lo = end
        _refresh_alerts_per_day(cursor)
        cursor.execute("UPDATE elasticc_metricsstate SET refreshed_at = now() WHERE id = 1")
        cursor.execute("SELECT elasticc_compact_rowcounts()")
        cursor.execute("SELECT messages_upto, refreshed_at FROM elasticc_metricsstate WHERE id = 1")
        upto, as_of = cursor.fetchone()
    return RefreshResult(
        skipped=False, messages=messages, classifications=classifications, messages_upto=int(upto), as_of=as_of
    )
