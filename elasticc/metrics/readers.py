"""Readers of the metrics aggregate tables for the pages: small tables only.

`elasticc.metrics.refresh` keeps the tables current; nothing here touches a
big table, so a page costs the same at 10^8 classifications as at 10^3.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import connection

from elasticc.metrics.refresh import BINS_PER_DECADE, DELAY_KINDS, MODES, mode_columns
from elasticc.read.selectors import classifiers
from elasticc.taxonomy import elasticc, elasticc2
from elasticc.taxonomy.taxonomies import ELASTICC, ELASTICC2
from elasticc.taxonomy.taxonomies import LEVELS as TAXONOMY_LEVELS

# Every level a metrics page may ask for, finest first; each taxonomy has a subset (`levels_of`).
LEVELS = ("exact", "category", "general", "broad")
# taxonomy -> classId -> (parent, level): how a class collapses to a coarser level.
_TREE: dict[str, dict[int, tuple[int | None, int]]] = {
    name: {c: (parent, level) for c, _name, parent, level in module.TAXONOMY}
    for name, module in ((ELASTICC, elasticc), (ELASTICC2, elasticc2))
}
DELAY_LABELS = {
    "broker": "broker (message header - alert sent)",
    "ours": "ours (stored - message header)",
    "total": "total (stored - alert sent)",
}


def as_of() -> datetime | None:
    """When the aggregates were last refreshed (shown on every metrics page)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT refreshed_at FROM elasticc_metricsstate WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


def classifier_stats() -> dict[int, dict]:
    """classifierid -> {nmessages, nalerts, firstingest, lastingest, noutside, nobjects}
    (`noutside`: classifications with a classId outside its taxonomy;
    `nobjects`: objects with a prediction in it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classifierid, nmessages, nalerts, firstingest, lastingest, noutside, nobjects "
            "FROM elasticc_metricsclassifier"
        )
        return {
            row[0]: {
                "nmessages": row[1],
                "nalerts": row[2],
                "firstingest": row[3],
                "lastingest": row[4],
                "noutside": row[5],
                "nobjects": row[6],
            }
            for row in cursor.fetchall()
        }


def truth_counts() -> list[tuple[int | None, int]]:
    """(gentype, objects) of the object truth, from the trigger-kept table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT gentype, n FROM elasticc_metricstruthcount WHERE n <> 0 ORDER BY gentype")
        return cursor.fetchall()


def levels_of(taxonomy: str) -> tuple[str, ...]:
    """The metric levels of a taxonomy, finest first (ELAsTiCC has no general level)."""
    return tuple(TAXONOMY_LEVELS[taxonomy])


def class_at_level(classid: int, level: str, *, taxonomy: str = ELASTICC) -> int:
    """Collapse a classId to `level` by walking up its parents (ELAsTiCC
    111 -> 11 -> 1; ELAsTiCC2 2222 -> 2220 -> 2200 -> 2000): a class already
    at or above the level stays itself. Raises KeyError for a level the
    taxonomy lacks, so a page never mixes levels silently."""
    target = TAXONOMY_LEVELS[taxonomy][level]
    tree = _TREE[taxonomy]
    while classid in tree and tree[classid][1] > target and tree[classid][0] is not None:
        classid = tree[classid][0]
    return classid


def confusion(*, classifierid: int, mode: str, level: str, taxonomy: str = ELASTICC) -> list[tuple[int, int, int]]:
    """(true classid, predicted classid, objects) at the given level of the
    classifier's taxonomy (classIds outside it never reach the matrix)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT trueclassid, predclassid, n FROM elasticc_metricsconfusion WHERE classifierid = %s AND mode = %s",
            [classifierid, MODES[mode]],
        )
        rows = [(true, pred, int(n)) for true, pred, n in cursor.fetchall()]
    return _collapse(rows, level=level, taxonomy=taxonomy)


def delay_histograms(*, classifierid: int, start: date | None = None, end: date | None = None) -> dict:
    """Broker / ours / total delay histograms of messages stored on days
    start..end (inclusive, UTC; None = open), on the log-spaced bins of the
    aggregate (BINS_PER_DECADE per decade of seconds), zero-filled.

    Returns {"edges": [n + 1 bin edges in seconds], "counts": {kind: [n counts]},
    "quantiles": {kind: {"n", "median", "p95"}}}. Every kind shares the same
    bins, from the lowest to the highest bin any kind has, so an empty bin is
    a 0 and not a count carried across it (which a line through the
    non-empty bins only would draw). A quantile is the [low, high) edges of
    the bin that holds it: the aggregate keeps bins, not delays, so that is
    its exact resolution (26 % wide)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, bin, sum(n) FROM elasticc_metricsdelay WHERE classifierid = %s "
            "AND day >= COALESCE(%s, '-infinity'::date) AND day <= COALESCE(%s, 'infinity'::date) "
            "GROUP BY kind, bin ORDER BY kind, bin",
            [classifierid, start, end],
        )
        rows = [(DELAY_KINDS[kind], int(bin_), int(n)) for kind, bin_, n in cursor.fetchall()]
    if not rows:
        return {
            "edges": [],
            "counts": {name: [] for name in DELAY_KINDS.values()},
            "quantiles": {name: {"n": 0, "median": None, "p95": None} for name in DELAY_KINDS.values()},
        }
    lo = min(bin_ for _, bin_, _ in rows)
    hi = max(bin_ for _, bin_, _ in rows)
    counts = {name: [0] * (hi - lo + 1) for name in DELAY_KINDS.values()}
    for kind, bin_, n in rows:
        counts[kind][bin_ - lo] = n
    return {
        "edges": [_bin_edge(b) for b in range(lo, hi + 2)],
        "counts": counts,
        "quantiles": {
            kind: binned_quantiles([(bin_, n) for k, bin_, n in rows if k == kind]) for kind in DELAY_KINDS.values()
        },
    }


def _bin_edge(bin_: int) -> float:
    return 10 ** (bin_ / BINS_PER_DECADE)


def binned_quantiles(bins: list[tuple[int, int]]) -> dict:
    """n, and the [low, high) edges (seconds) of the bin holding the median
    and the 95th percentile (the first bin, in order, whose cumulative count
    reaches q of the total), from (bin, count) pairs sorted by bin."""
    total = sum(n for _, n in bins)
    result: dict = {"n": total, "median": None, "p95": None}
    for key, q in (("median", 0.5), ("p95", 0.95)):
        running = 0
        for bin_, n in bins:
            running += n
            if total and running >= q * total:
                result[key] = [_bin_edge(bin_), _bin_edge(bin_ + 1)]
                break
    return result


def delay_days(*, classifierid: int) -> tuple[date | None, date | None]:
    """First and last ingest day with messages (bounds of the window form)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(day), max(day) FROM elasticc_metricsdelay WHERE classifierid = %s", [classifierid])
        return cursor.fetchone()


# MJD 0 (1858-11-17) was a Wednesday: night - (night + 2) % 7 is the Monday of its week.
_MJD_MONDAY_OFFSET = 2


def completeness(*, classifierid: int, period: str, start: date | None = None, end: date | None = None) -> list[dict]:
    """Per day or ISO week (by alert sent time, UTC): alerts sent, alerts this
    classifier classified, and the fraction; days start..end (inclusive;
    None = open), the page's window. The wall-clock axis: see
    `completeness_by_night` for the simulated one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.day, a.nsent, COALESCE(c.nalerts, 0) FROM elasticc_metricsalertsday a "
            "LEFT JOIN elasticc_metricsclassified c ON c.day = a.day AND c.classifierid = %s "
            "WHERE a.day >= COALESCE(%s, '-infinity'::date) AND a.day <= COALESCE(%s, 'infinity'::date) "
            "ORDER BY a.day",
            [classifierid, start, end],
        )
        rows = cursor.fetchall()
    buckets: dict[date, list[int]] = {}
    for day, nsent, nclassified in rows:
        key = day - timedelta(days=day.weekday()) if period == "week" else day
        bucket = buckets.setdefault(key, [0, 0])
        bucket[0] += nsent
        bucket[1] += nclassified
    return [
        {"start": key, "sent": sent, "classified": got, "fraction": got / sent if sent else None}
        for key, (sent, got) in sorted(buckets.items())
    ]


def completeness_by_night(
    *, classifierid: int, period: str, mjd_min: float | None = None, mjd_max: float | None = None
) -> list[dict]:
    """Per simulated night (floor of the MJD of the alert's source) or per
    week of nights (Monday to Sunday, as the send-day weeks): alerts sent,
    alerts this classifier answered (each once, however many messages it
    got), and the fraction; nights floor(mjd_min)..floor(mjd_max) (None =
    open). `night` is the first night of the bucket (an MJD)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.night, a.nsent, COALESCE(c.nalerts, 0) FROM ("
            "  SELECT night, sum(nsent)::bigint AS nsent FROM elasticc_metricsalertsnight"
            "  WHERE night >= COALESCE(floor(%s::float8), '-infinity')"
            "    AND night <= COALESCE(floor(%s::float8), 'infinity')"
            "  GROUP BY night"
            ") a LEFT JOIN elasticc_metricsclassifiednight c ON c.night = a.night AND c.classifierid = %s "
            "ORDER BY a.night",
            [mjd_min, mjd_max, classifierid],
        )
        rows = cursor.fetchall()
    buckets: dict[int, list[int]] = {}
    for night, nsent, nclassified in rows:
        key = night - (night + _MJD_MONDAY_OFFSET) % 7 if period == "week" else night
        bucket = buckets.setdefault(key, [0, 0])
        bucket[0] += int(nsent)
        bucket[1] += int(nclassified)
    return [
        {"night": key, "sent": sent, "classified": got, "fraction": got / sent if sent else None}
        for key, (sent, got) in sorted(buckets.items())
    ]


def completeness_on_axis(*, classifierid: int, params: dict) -> list[dict]:
    """Completeness on the axis a page or API query chose (`params` of
    `MetricsForm`): per simulated night in the MJD window (`axis` "night",
    the default), or per wall-clock send day in the date window ("sent")."""
    if params["axis"] == "sent":
        return completeness(
            classifierid=classifierid, period=params["period"], start=params["start"], end=params["end"]
        )
    return completeness_by_night(
        classifierid=classifierid, period=params["period"], mjd_min=params["mjd_min"], mjd_max=params["mjd_max"]
    )


def true_class_probability(*, classifierid: int, bin_days: int = 1) -> dict[str, list[dict]]:
    """true classid (as a string; "all" for every class together) ->
    [{days, n, mean, std}] of the probability given to the object's true
    class, by days since its first detection (bins of `bin_days`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT trueclassid, days, n, sump, sump2 FROM elasticc_metricstrueprob WHERE classifierid = %s",
            [classifierid],
        )
        sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for true, days, n, sump, sump2 in cursor.fetchall():
            start = (days // bin_days) * bin_days
            for key in (str(true), "all"):
                acc = sums[(key, start)]
                acc[0] += n
                acc[1] += sump
                acc[2] += sump2
    result: dict[str, list[dict]] = defaultdict(list)
    for (key, start), (n, sump, sump2) in sorted(sums.items(), key=lambda item: (item[0][0], item[0][1])):
        mean = sump / n
        std = math.sqrt(max(sump2 / n - mean * mean, 0.0))
        result[key].append({"days": start, "n": int(n), "mean": mean, "std": std})
    return dict(result)


def scores(cells: list[tuple[int, int, int]]) -> dict:
    """Accuracy, macro-averaged F1 and per-class purity / completeness / F1
    of a confusion matrix given as (true, predicted, objects) cells.

    Classes are the union of true and predicted classes, as scikit-learn's
    `f1_score(average="macro")` takes them, so a notebook gets the same
    number: a class nobody predicted (purity undefined) or that no object
    is (completeness undefined) has F1 0 in the average; the undefined
    ratio itself is None. Purity is TP / predicted (precision), completeness
    TP / true (recall)."""
    total = sum(n for _, _, n in cells)
    by_true: dict[int, int] = defaultdict(int)
    by_pred: dict[int, int] = defaultdict(int)
    hits: dict[int, int] = defaultdict(int)
    for true, pred, n in cells:
        by_true[true] += n
        by_pred[pred] += n
        if true == pred:
            hits[true] += n
    per_class = []
    for classid in sorted(set(by_true) | set(by_pred)):
        purity = hits[classid] / by_pred[classid] if by_pred[classid] else None
        complete = hits[classid] / by_true[classid] if by_true[classid] else None
        f1 = 2 * purity * complete / (purity + complete) if purity and complete else 0.0
        per_class.append(
            {
                "classid": classid,
                "ntrue": by_true[classid],
                "npredicted": by_pred[classid],
                "purity": purity,
                "completeness": complete,
                "f1": f1,
            }
        )
    return {
        "objects": total,
        "accuracy": sum(hits.values()) / total if total else None,
        "macro_f1": sum(c["f1"] for c in per_class) / len(per_class) if per_class else None,
        "per_class": per_class,
    }


def comparison(*, mode: str, level: str, truth: bool) -> list[dict]:
    """One row per classifier for the comparison table, from the aggregate
    tables in three queries whatever the number of classifiers: objects
    classified, alerts classified / alerts sent (completeness without
    truth), median and 95th percentile of the total delay, classIds outside
    the taxonomy; with `truth` also the scores of its confusion matrix at
    `level` (None where its taxonomy lacks the level). Without `truth` the
    confusion table is not read at all (SECURITY.md: truth-derived numbers
    only for those who may see truth)."""
    stats = classifier_stats()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(sum(nsent), 0) FROM elasticc_metricsalertsday")
        sent = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT classifierid, bin, sum(n) FROM elasticc_metricsdelay WHERE kind = 2 GROUP BY 1, 2 ORDER BY 1, 2"
        )
        delays: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for classifierid, bin_, n in cursor.fetchall():
            delays[classifierid].append((int(bin_), int(n)))
        cells: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        if truth:
            cursor.execute(
                "SELECT classifierid, trueclassid, predclassid, n FROM elasticc_metricsconfusion WHERE mode = %s",
                [MODES[mode]],
            )
            for classifierid, true, pred, n in cursor.fetchall():
                cells[classifierid].append((true, pred, int(n)))
    rows = []
    for classifier in classifiers():
        cid = classifier["classifierid"]
        stat = stats.get(cid, {})
        quantiles = binned_quantiles(delays.get(cid, []))
        row = {
            **classifier,
            "nobjects": stat.get("nobjects", 0),
            "nmessages": stat.get("nmessages", 0),
            "nalerts": stat.get("nalerts", 0),
            "alerts_sent": sent,
            "completeness": stat.get("nalerts", 0) / sent if sent else None,
            "delay_median": quantiles["median"],
            "delay_p95": quantiles["p95"],
            "noutside": stat.get("noutside", 0),
        }
        if truth:
            taxonomy = classifier["evaluatedtaxonomy"]
            if level in levels_of(taxonomy):
                row.update(scores(_collapse(cells.get(cid, []), level=level, taxonomy=taxonomy)))
            else:
                row.update(objects=None, accuracy=None, macro_f1=None, per_class=[])
        rows.append(row)
    return rows


def _collapse(cells: list[tuple[int, int, int]], *, level: str, taxonomy: str) -> list[tuple[int, int, int]]:
    """Exact-level confusion cells summed into the classes of `level`."""
    summed: dict[tuple[int, int], int] = defaultdict(int)
    for true, pred, n in cells:
        summed[(class_at_level(true, level, taxonomy=taxonomy), class_at_level(pred, level, taxonomy=taxonomy))] += n
    return sorted((t, p, n) for (t, p), n in summed.items() if n)


# Every night from the first to the last of either per-night table: a night
# without alerts or messages is a 0, not a gap a chart would draw across.
_STREAM_NIGHTS = (
    "WITH nights AS (SELECT generate_series(min(night), max(night)) AS night FROM ("
    "  SELECT night FROM elasticc_metricsalertsnight UNION ALL SELECT night FROM elasticc_metricsmessagesnight"
    ") n) "
)


def stream_nights() -> dict[str, list[dict]]:
    """Per simulated night (floor of the MJD of the alert's source): alerts
    sent, and broker messages per classifier (from the two small per-night
    tables the refresh keeps), zero-filled: every night from the first to
    the last of either table, for every classifier with messages."""
    with connection.cursor() as cursor:
        cursor.execute(
            _STREAM_NIGHTS + "SELECT n.night, COALESCE(sum(a.nsent), 0)::bigint FROM nights n "
            "LEFT JOIN elasticc_metricsalertsnight a ON a.night = n.night GROUP BY n.night ORDER BY n.night"
        )
        alerts = [{"night": night, "alerts_sent": n} for night, n in cursor.fetchall()]
        cursor.execute(
            _STREAM_NIGHTS + "SELECT c.classifierid, n.night, COALESCE(m.n, 0) FROM "
            "(SELECT DISTINCT classifierid FROM elasticc_metricsmessagesnight) c CROSS JOIN nights n "
            "LEFT JOIN elasticc_metricsmessagesnight m ON m.classifierid = c.classifierid AND m.night = n.night "
            "ORDER BY c.classifierid, n.night"
        )
        messages = [{"classifierid": cid, "night": night, "messages": n} for cid, night, n in cursor.fetchall()]
    return {"alerts": alerts, "messages": messages}


def stream_lag(now: datetime) -> dict:
    """The last alert sent and the last broker message stored, as of the last
    refresh, and how long ago each was (seconds; None when there is none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.alerts_sent_upto, (SELECT max(lastingest) FROM elasticc_metricsclassifier), s.refreshed_at "
            "FROM elasticc_metricsstate s WHERE s.id = 1"
        )
        row = cursor.fetchone() or (None, None, None)
    last_alert, last_message, refreshed = row
    return {
        "last_alert_sent": last_alert,
        "last_message_stored": last_message,
        "as_of": refreshed,
        "alert_lag_s": (now - last_alert).total_seconds() if last_alert else None,
        "message_lag_s": (now - last_message).total_seconds() if last_message else None,
    }


def classes_within(classid: int, level: str, *, taxonomy: str) -> list[int]:
    """The exact-level classIds that `class_at_level` collapses to `classid`
    at `level` (the class itself included): the members of a matrix row or column."""
    members = {c for c in _TREE[taxonomy] if class_at_level(c, level, taxonomy=taxonomy) == classid}
    return sorted(members | {classid})


def browse_objects(
    *,
    classifierid: int,
    mode: str,
    predclasses: list[int] | None = None,
    trueclasses: list[int] | None = None,
    min_probability: float | None = None,
    mjd_min: float | None = None,
    mjd_max: float | None = None,
    ndet_min: int | None = None,
    ndet_max: int | None = None,
    after: int | None = None,
    limit: int = 100,
    with_truth: bool = False,
) -> list[dict]:
    """Objects one classifier predicted, from `elasticc_metricsobject` (one
    row per classifier and object, kept by the refresh): its prediction and
    probability in `mode` (latest, best, or at N days after first detection:
    objects without a prediction by then are not listed), the true class (`with_truth`, and the
    `trueclasses` filter, only for those who may see truth), and the
    detection span and count. Keyset-paginated on diaObjectId (`after`), so
    a page costs the same deep in the list as at its start; a confusion cell
    (one true and one predicted class) is an index range
    (migrations 0015, 0017). An object is in the MJD range when it was detected in
    it: first detection <= mjd_max and last detection >= mjd_min."""
    pred, prob = mode_columns(mode)
    where = ["classifierid = %s", f"{pred} IS NOT NULL"]
    params: list = [classifierid]
    for condition, value in (
        (f"{pred} = ANY(%s)", predclasses),
        ("trueclassid = ANY(%s)", trueclasses),
        # Probabilities are 4-byte reals: compare as one, so ">= 0.9" keeps a stored 0.9
        # (which as a double is 0.89999998).
        (f"{prob} >= %s::real", min_probability),
        ("lastdet >= %s", mjd_min),
        ("firstdet <= %s", mjd_max),
        ("ndet >= %s", ndet_min),
        ("ndet <= %s", ndet_max),
        ("diaobjectid > %s", after),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT diaobjectid, {pred}, {prob}, {'trueclassid' if with_truth else 'NULL'}, firstdet, lastdet, ndet "
            f"FROM elasticc_metricsobject WHERE {' AND '.join(where)} ORDER BY diaobjectid LIMIT %s",
            [*params, limit],
        )
        keys = ("diaobjectid", "predclassid", "probability", "trueclassid", "firstdet", "lastdet", "ndet")
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
