"""Classifier metrics against truth: the SQL that maintains the aggregate
tables of migrations 0005, 0014, 0015 and 0017, in one place
(`elasticc.metrics.readers` reads them).

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
- Confusion matrices count objects, by the prediction (top class) of a
  classification chosen per object in one of these modes (`MODES`; URL and
  API value -> `elasticc_metricsconfusion.mode`):
  - `latest` (0): of the latest classification (by alert sent time, then
    message id);
  - `best` (1): the best one (highest top probability over all its alerts);
  - `days<N>` (100 + N, N in DAYS_AFTER_DETECTION = 1, 3, 10, 30): what was
    known N days after the object's first detection: the latest
    classification by the MJD of the alert's source (then message id, so a
    second message about the same alert wins) among the classifier's
    messages about alerts whose source MJD <= first detection MJD + N. An
    object the classifier had not classified by then has no prediction in
    that mode and is in no cell of its matrix.
  `elasticc_metricsobject` keeps that state per (classifier, object) and
  mode (the chosen message's ordering key, id, top class and probability),
  so each mode is a running maximum that a chunk merges into: when a later
  alert changes an object's prediction, the matrix moves the object from one
  cell to the other, and folding the messages in any chunks gives what one
  pass over all of them gives. It also keeps each object's first and last
  detection MJD and number of detections, recounted when a message about the
  object is processed, for the object browser's filters.
- First detection: the earliest source of the object in
  `elasticc_diasource` when a message about it is processed. The simulation
  is loaded before its alerts are streamed, so this does not move; a source
  loaded later that moves an object's first detection earlier needs a `full`
  refresh (as truth loaded late does) for the N-day modes and the days since
  first detection to be exact.
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
- Completeness, alerts answered / alerts sent, on two axes: the simulated
  night (floor of the MJD of the alert's source; the pages' default) and the
  wall-clock day the alert was sent (UTC). Numerators: sent alerts a
  classifier answered, per night (`metricsclassifiednight`) and per send day
  (`metricsclassified`), each alert counted once per classifier however many
  messages it got: in the chunk that holds the classifier's first message
  about it (`_fresh`: no earlier message about that alert with a
  classification of that classifier), and only if the alert was sent by
  then. Denominators: sent alerts per day (`metricsalertsday`) and per (day,
  simulated night) (`metricsalertsnight`, also the stream status page),
  recounted from the start of the day of the last sent alert seen, through
  the index on `alertsenttimestamp`. Messages (not alerts) per classifier
  and simulated night (`metricsmessagesnight`, the stream status page) are
  folded in with each chunk.

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
# "At N days after first detection" predictions are kept for these N (days):
# early (1, 3), once a light curve has shape (10), near the end of most
# transients (30). Each costs four columns and an index on
# elasticc_metricsobject (migration 0017), so the set is small and fixed.
DAYS_AFTER_DETECTION = (1, 3, 10, 30)
# Prediction modes (URL / API value -> elasticc_metricsconfusion.mode).
MODES = {"latest": 0, "best": 1, **{f"days{n}": 100 + n for n in DAYS_AFTER_DETECTION}}
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
    "elasticc_metricsclassifiednight",
)


def mode_days(mode: str) -> int | None:
    """N of a "days<N>" mode, None for latest and best."""
    return int(mode.removeprefix("days")) if mode.startswith("days") else None


def mode_columns(mode: str) -> tuple[str, str]:
    """The `elasticc_metricsobject` columns (predicted classId, its probability) of a mode."""
    if mode not in MODES:
        raise KeyError(mode)
    return f"{mode}_classid", f"{mode}_prob"


def _each_days(template: str, sep: str = ", ") -> str:
    """`template` formatted with n for each N of DAYS_AFTER_DETECTION, joined."""
    return sep.join(template.format(n=n) for n in DAYS_AFTER_DETECTION)


# The N-day parts of the per-object statements below, one per N: the chunk's
# candidates (_ob), the merge with the stored state (_os; the new value wins
# when it comes later by (source MJD, message id)), the confusion moves and
# the stored columns.
_DAYS_VALUES = _each_days("({n})")
_OB_DAYS = _each_days(
    "d{n}.mjd AS d{n}_mjd, d{n}.msgid AS d{n}_msg, d{n}.classid AS d{n}_class, d{n}.prob AS d{n}_prob"
)
_OB_DAYS_JOINS = _each_days(
    "LEFT JOIN _od d{n} ON d{n}.classifierid = l.classifierid AND d{n}.diaobjectid = l.diaobjectid AND d{n}.n = {n}",
    sep="\n    ",
)
_OS_DAYS_MERGE = _each_days(
    "o.days{n}_mjd AS o_d{n}_mjd, o.days{n}_msgid AS o_d{n}_msg, o.days{n}_classid AS old_d{n}, "
    "o.days{n}_prob AS o_d{n}_prob, (n.d{n}_msg IS NOT NULL AND (o.days{n}_msgid IS NULL "
    "OR (n.d{n}_mjd, n.d{n}_msg) > (o.days{n}_mjd, o.days{n}_msgid))) AS d{n}new"
)
_OS_DAYS = _each_days(
    "old_d{n}, CASE WHEN d{n}new THEN d{n}_mjd ELSE o_d{n}_mjd END AS days{n}_mjd, "
    "CASE WHEN d{n}new THEN d{n}_msg ELSE o_d{n}_msg END AS days{n}_msgid, "
    "CASE WHEN d{n}new THEN d{n}_class ELSE old_d{n} END AS days{n}_classid, "
    "CASE WHEN d{n}new THEN d{n}_prob ELSE o_d{n}_prob END AS days{n}_prob"
)
_CONFUSION_DAYS = _each_days(
    "UNION ALL SELECT classifierid, {n} + 100, old_true, old_d{n}, -1 FROM _os "
    "WHERE old_true IS NOT NULL AND old_d{n} IS NOT NULL\n        "
    "UNION ALL SELECT classifierid, {n} + 100, trueclassid, days{n}_classid, 1 FROM _os "
    "WHERE trueclassid IS NOT NULL AND days{n}_classid IS NOT NULL",
    sep="\n        ",
)
_OBJECT_DAYS = _each_days("days{n}_mjd, days{n}_msgid, days{n}_classid, days{n}_prob")
_OBJECT_DAYS_UPDATE = _each_days(
    "days{n}_mjd = EXCLUDED.days{n}_mjd, days{n}_msgid = EXCLUDED.days{n}_msgid, "
    "days{n}_classid = EXCLUDED.days{n}_classid, days{n}_prob = EXCLUDED.days{n}_prob"
)


# One refresh runs at a time (the refresh lock), and a chunk's sorts and
# hashes (10^6 classifications) spill to disk at the default 4 MB; JIT
# compiles each statement for longer than a chunk's statement runs.
CHUNK_SETTINGS_SQL = "SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"


@dataclass(frozen=True)
class RefreshResult:
    skipped: bool
    messages: int
    classifications: int
    messages_upto: int
    as_of: datetime | None


# --- refresh -------------------------------------------------------------------------------

BATCH_SQL = [
    # One row per (classifier, message) of the chunk, from the
    # classifications' index range on each partition: its top class in the
    # classifier's evaluated taxonomy (null when it gave none there), the
    # classIds and probabilities it gave inside that taxonomy (for the true
    # class's probability once the object's truth is known), how many it gave
    # outside, and the alert it is about. The top class is the greatest
    # (probability, -classId) pair, by a hash aggregate: a sort of the chunk's
    # classifications by five keys took four times as long, and a table of
    # the chunk's classifications joined back for the true class's
    # probability cost a tenth of the refresh.
    """
    CREATE TEMP TABLE _mm ON COMMIT DROP AS
    WITH g AS (
        SELECT c.classifierid, c.brokermessageid, k.evaluatedtaxonomy AS taxonomy,
               max(ARRAY[c.probability::float8, -c.classid]) FILTER (WHERE t.classid IS NOT NULL) AS top,
               array_agg(c.classid) FILTER (WHERE t.classid IS NOT NULL) AS classids,
               array_agg(c.probability) FILTER (WHERE t.classid IS NOT NULL) AS probs,
               count(*) AS nclass, count(*) FILTER (WHERE t.classid IS NULL) AS noutside
        FROM elasticc_brokerclassification c
        JOIN elasticc_brokerclassifier k ON k.classifierid = c.classifierid
        LEFT JOIN elasticc_classid t ON t.taxonomy = k.evaluatedtaxonomy AND t.classid = c.classid
        WHERE c.brokermessageid > %(lo)s AND c.brokermessageid <= %(hi)s
        GROUP BY c.classifierid, c.brokermessageid, k.evaluatedtaxonomy
    )
    SELECT g.classifierid, g.brokermessageid, g.taxonomy, (-g.top[2])::integer AS topclass,
           g.top[1]::real AS topprob, g.classids, g.probs, g.nclass, g.noutside,
           m.alertid, m.msghdrtimestamp AS hdr, m.descingesttimestamp AS ingest,
           m.elasticcpublishtimestamp AS pub, a.diaobjectid, a.diasourceid, a.alertsenttimestamp AS sent
    FROM g
    JOIN elasticc_brokermessage m ON m.brokermessageid = g.brokermessageid
                                 AND m.brokermessageid > %(lo)s AND m.brokermessageid <= %(hi)s
    LEFT JOIN elasticc_diaalert a ON a.alertid = m.alertid
    """,
    "ANALYZE _mm",
    """
    INSERT INTO elasticc_metricsclassifier AS t (classifierid, noutside)
    SELECT classifierid, sum(noutside) FROM _mm GROUP BY classifierid HAVING sum(noutside) > 0
    ON CONFLICT (classifierid) DO UPDATE SET noutside = t.noutside + EXCLUDED.noutside
    """,
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
    SELECT mm.classifierid, mm.brokermessageid, mm.taxonomy, mm.topclass, mm.topprob, mm.alertid, mm.hdr,
           mm.ingest, mm.pub, mm.diaobjectid, mm.diasourceid, mm.sent,
           mo.trueclassid, mo.firstdet, mo.lastdet, mo.ndet,
           CASE WHEN mo.trueclassid IS NOT NULL AND mm.topclass IS NOT NULL
                THEN COALESCE(mm.probs[array_position(mm.classids, mo.trueclassid)], 0)
           END AS trueprob,
           floor(s.midpointtai - mo.firstdet)::integer AS days,
           floor(s.midpointtai)::integer AS night, s.midpointtai AS mjd
    FROM _mm mm
    LEFT JOIN _mo mo ON mo.diaobjectid = mm.diaobjectid AND mo.taxonomy = mm.taxonomy
    -- Bounded by the chunk's sources: a merge join otherwise reads the
    -- source index from its start to the chunk's last source, every chunk.
    LEFT JOIN elasticc_diasource s ON s.diasourceid = mm.diasourceid
          AND s.diasourceid BETWEEN (SELECT min(diasourceid) FROM _mm) AND (SELECT max(diasourceid) FROM _mm)
    """,
    "ANALYZE _m",
    # Alerts classified by a classifier for the first time in this chunk
    # (with the simulated night of their source).
    """
    CREATE TEMP TABLE _fresh ON COMMIT DROP AS
    SELECT p.classifierid, p.alertid, p.sent, p.night
    FROM (SELECT DISTINCT classifierid, alertid, sent, night FROM _m) p
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
    # The same alerts per simulated night of their source: completeness by night.
    """
    INSERT INTO elasticc_metricsclassifiednight AS t (classifierid, night, nalerts)
    SELECT classifierid, night, count(*)
    FROM _fresh WHERE sent IS NOT NULL AND night IS NOT NULL GROUP BY 1, 2
    ON CONFLICT (classifierid, night) DO UPDATE SET nalerts = t.nalerts + EXCLUDED.nalerts
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
    # Per (classifier, object, N) in this chunk: the latest classification (by
    # the MJD of the alert's source, then message id) about an alert within N
    # days of the object's first detection ...
    f"""
    CREATE TEMP TABLE _od ON COMMIT DROP AS
    SELECT DISTINCT ON (classifierid, diaobjectid, w.n) classifierid, diaobjectid, w.n, mjd,
           brokermessageid AS msgid, topclass AS classid, topprob AS prob
    FROM _m CROSS JOIN (VALUES {_DAYS_VALUES}) AS w(n)
    WHERE diaobjectid IS NOT NULL AND topclass IS NOT NULL AND mjd <= firstdet + w.n
    ORDER BY classifierid, diaobjectid, w.n, mjd DESC, brokermessageid DESC
    """,
    "ANALYZE _od",
    # ... and the latest and best prediction per (classifier, object) in this chunk, with those ...
    f"""
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
    SELECT l.*, b.bmsg, b.bclass, b.bprob,
           {_OB_DAYS}
    FROM latest l JOIN best b USING (classifierid, diaobjectid)
    {_OB_DAYS_JOINS}
    """,
    # ... merged with the stored state: the old and the new cell of each object.
    # A mode's new value wins when it comes later in that mode's order.
    f"""
    CREATE TEMP TABLE _os ON COMMIT DROP AS
    SELECT classifierid, diaobjectid, old_true, old_latest, old_best, firstdet, lastdet, ndet,
           COALESCE(new_true, old_true) AS trueclassid,
           CASE WHEN lnew THEN lat ELSE o_lat END AS latest_at,
           CASE WHEN lnew THEN lmsg ELSE o_lmsg END AS latest_msgid,
           CASE WHEN lnew THEN lclass ELSE old_latest END AS latest_classid,
           CASE WHEN lnew THEN lprob ELSE o_lprob END AS latest_prob,
           CASE WHEN bnew THEN bmsg ELSE o_bmsg END AS best_msgid,
           CASE WHEN bnew THEN bclass ELSE old_best END AS best_classid,
           CASE WHEN bnew THEN bprob ELSE o_bprob END AS best_prob,
           {_OS_DAYS}
    FROM (
        SELECT n.*, n.trueclassid AS new_true, o.trueclassid AS old_true,
               o.latest_at AS o_lat, o.latest_msgid AS o_lmsg, o.latest_classid AS old_latest,
               o.latest_prob AS o_lprob, o.best_msgid AS o_bmsg, o.best_classid AS old_best,
               o.best_prob AS o_bprob,
               (o.diaobjectid IS NULL OR (n.lat, n.lmsg) > (o.latest_at, o.latest_msgid)) AS lnew,
               (o.diaobjectid IS NULL OR n.bprob > o.best_prob) AS bnew,
               {_OS_DAYS_MERGE}
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
    # Each object leaves its old cell (-1) and enters its new one (+1) in every
    # mode; an N-day mode has no cell while the object has no N-day prediction.
    f"""
    INSERT INTO elasticc_metricsconfusion AS t (classifierid, mode, trueclassid, predclassid, n)
    SELECT classifierid, mode, tc, pc, sum(d) FROM (
        SELECT classifierid, 0 AS mode, old_true AS tc, old_latest AS pc, -1 AS d FROM _os WHERE old_true IS NOT NULL
        UNION ALL SELECT classifierid, 1, old_true, old_best, -1 FROM _os WHERE old_true IS NOT NULL
        UNION ALL SELECT classifierid, 0, trueclassid, latest_classid, 1 FROM _os WHERE trueclassid IS NOT NULL
        UNION ALL SELECT classifierid, 1, trueclassid, best_classid, 1 FROM _os WHERE trueclassid IS NOT NULL
        {_CONFUSION_DAYS}
    ) x
    GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0
    ON CONFLICT (classifierid, mode, trueclassid, predclassid) DO UPDATE SET n = t.n + EXCLUDED.n
    """,
    "DELETE FROM elasticc_metricsconfusion WHERE n = 0",
    f"""
    INSERT INTO elasticc_metricsobject AS t (classifierid, diaobjectid, trueclassid, latest_at, latest_msgid,
                                             latest_classid, latest_prob, best_msgid, best_classid, best_prob,
                                             firstdet, lastdet, ndet,
                                             {_OBJECT_DAYS})
    SELECT classifierid, diaobjectid, trueclassid, latest_at, latest_msgid, latest_classid, latest_prob,
           best_msgid, best_classid, best_prob, firstdet, lastdet, ndet,
           {_OBJECT_DAYS}
    FROM _os
    ON CONFLICT (classifierid, diaobjectid) DO UPDATE SET
        firstdet = EXCLUDED.firstdet, lastdet = EXCLUDED.lastdet, ndet = EXCLUDED.ndet,
        trueclassid = EXCLUDED.trueclassid, latest_at = EXCLUDED.latest_at,
        latest_msgid = EXCLUDED.latest_msgid, latest_classid = EXCLUDED.latest_classid,
        latest_prob = EXCLUDED.latest_prob, best_msgid = EXCLUDED.best_msgid,
        best_classid = EXCLUDED.best_classid, best_prob = EXCLUDED.best_prob,
        {_OBJECT_DAYS_UPDATE}
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
                cursor.execute(CHUNK_SETTINGS_SQL)
                for statement in BATCH_SQL:
                    cursor.execute(statement, {"lo": lo, "hi": end})
                cursor.execute("SELECT count(DISTINCT brokermessageid), COALESCE(sum(nclass), 0) FROM _mm")
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
