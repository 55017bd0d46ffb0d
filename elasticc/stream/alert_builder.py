"""Build ELAsTiCC alerts from the tables, a batch at a time.

Why set-based: the original rebuilt each alert with its own queries (source,
object, previous sources, previous forced sources), so streaming a night of
alerts cost four round trips and four plan/execute cycles per alert. Here a
batch of any size costs four queries:

1. the triggering sources (keyed on the alert ids);
2. the batch's objects, once each, with their first detection time;
3. every detection of the batch's objects in the union of the windows the
   batch needs (one range per object, passed as arrays, one index range
   scan per object);
4. likewise every forced source, only for objects some alert of the batch
   needs forced photometry for (skipped when none does).

Rows come back sorted per object by time, and each alert's histories are
slices of its object's lists (found by bisection), so a detection shared by
several alerts of the batch is fetched and converted once. The rules (those
of ELAsTiCC's alerts, shared with the REST `diaalert` view):

- prvDiaSources: detections of the object with t - history_days <= midPointTai < t;
- prvDiaForcedSources: empty when t - first_detection <= 0.5 day (no forced
  photometry has run yet), else forced sources with
  max(first_detection - 30, t - history_days) <= midPointTai < t;
- both sorted by midPointTai (then id).

Two outputs share those queries: `build_alerts` gives Avro-ready dicts (the
REST `diaalert` view, tests); `build_alert_payloads` gives the schemaless
Avro bytes directly from the row tuples (`elasticc.avro.row_encoder`), which is what
`send_elasticc_alerts` streams.

Floats stored as PostgreSQL `real` arrive (text protocol) as their shortest
float32 decimal, so the dicts equal the published JSON alerts and encode to
the same Avro bytes. v0_9 needs a few values the ELAsTiCC2 tables may lack:
a missing `ccdVisitId` becomes -1 and a missing `totFlux`/`totFluxErr` NaN
(they are required in v0_9 Avro), and the v0_9-only alert fields
`prvDiaNondetectionLimits`, `cutoutDifference`, `cutoutTemplate` are null.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from elasticc.avro import row_encoder as avro_rows
from elasticc.avro.columns import (
    DIAFORCEDSOURCE_AVRO_FIELDS,
    DIAOBJECT_AVRO_FIELDS,
    DIASOURCE_AVRO_FIELDS,
    avro_fields,
    column,
)
from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, check_schema_version
from elasticc.postgres.array_literals import number_array

# No forced photometry for an alert this close (days) to the first detection.
SAME_NIGHT_DAYS = 0.5
# Forced photometry starts this many days before the first detection.
FORCED_LEAD_DAYS = 30.0

# Columns nullable in the tables but required in v0_9 Avro: SQL fallback.
_V0_9_REQUIRED_FALLBACK = {
    "ccdVisitId": "-1",
    "totFlux": "'NaN'::real",
    "totFluxErr": "'NaN'::real",
}


@dataclass(frozen=True)
class _Shape:
    """Field names and SELECT lists of one schema version."""

    source_fields: tuple[str, ...]
    forced_fields: tuple[str, ...]
    object_fields: tuple[str, ...]

    @staticmethod
    def select_list(alias: str, fields: tuple[str, ...], version: str) -> str:
        out = []
        for name in fields:
            expr = f"{alias}.{column(name)}"
            if version == "v0_9" and name in _V0_9_REQUIRED_FALLBACK:
                expr = f"COALESCE({expr}, {_V0_9_REQUIRED_FALLBACK[name]})"
            out.append(expr)
        return ", ".join(out)


def _shape(version: str) -> _Shape:
    check_schema_version(version)
    return _Shape(
        source_fields=avro_fields(DIASOURCE_AVRO_FIELDS, version),
        forced_fields=avro_fields(DIAFORCEDSOURCE_AVRO_FIELDS, version),
        object_fields=avro_fields(DIAOBJECT_AVRO_FIELDS, version),
    )


def _history_query(table: str, alias: str, id_column: str, select: str) -> str:
    """Rows of `table` for each (object, lo, hi) triple of the arrays, sorted
    per object by time. The LATERAL subquery (its ORDER BY keeps PostgreSQL
    from flattening it into a hash join over the whole table) makes this one
    index range scan per object, in the object's partition only."""
    return (
        f"SELECT {select} "
        "FROM unnest(%s::bigint[], %s::float8[], %s::float8[]) WITH ORDINALITY AS w(diaobjectid, lo, hi, ord) "
        f"CROSS JOIN LATERAL (SELECT * FROM {table} x WHERE x.diaobjectid = w.diaobjectid "
        f"  AND x.midpointtai >= w.lo AND x.midpointtai < w.hi ORDER BY x.midpointtai, x.{id_column}) {alias} "
        f"ORDER BY w.ord, {alias}.midpointtai, {alias}.{id_column}"
    )


def _group_by_object(rows: list[tuple], time_index: int, object_index: int) -> dict[int, tuple[list, list]]:
    """{objectid: (times, rows)} from rows sorted by object then time."""
    grouped: dict[int, tuple[list, list]] = {}
    for row in rows:
        entry = grouped.get(row[object_index])
        if entry is None:
            entry = grouped[row[object_index]] = ([], [])
        entry[0].append(row[time_index])
        entry[1].append(row)
    return grouped


@dataclass
class _Batch:
    """Rows of one batch: per alert its head, per object its rows, and per
    alert the index ranges of its histories in its object's lists."""

    shape: _Shape
    order: list[int]  # alert ids found, in the requested order
    heads: dict[int, tuple[int, tuple]]  # alertid -> (objectid, source row)
    objects: dict[int, tuple]
    sources: dict[int, tuple[list, list]]
    forced: dict[int, tuple[list, list]]
    ranges: dict[int, tuple[int, int, int, int]]  # alertid -> source lo/hi, forced lo/hi


def _fetch_batch(alert_ids: Sequence[int], schema_version: str, history_days: float) -> _Batch:
    """The four queries (module docstring) and the per-alert history ranges."""
    shape = _shape(schema_version)
    ids = [int(i) for i in alert_ids]
    history_days = float(history_days)
    batch = _Batch(shape, [], {}, {}, {}, {}, {})
    if not ids:
        return batch
    source_select = _Shape.select_list("s", shape.source_fields, schema_version)
    object_select = _Shape.select_list("o", shape.object_fields, schema_version)
    src_t = shape.source_fields.index("midPointTai")
    with transaction.atomic(), connection.cursor() as cursor:
        # The per-object LATERAL scans look expensive to the planner (it
        # multiplies by every partition), which triggers JIT compilation
        # costing seconds for queries that run in milliseconds.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"SELECT a.alertid, a.diaobjectid, {source_select} "
            "FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "WHERE a.alertid = ANY(%s::bigint[])",
            [number_array(ids)],
        )
        for row in cursor.fetchall():
            batch.heads[row[0]] = (row[1], row[2:])
        # Objects once each (a batch often holds several alerts of one
        # object), with their first detection (one probe of the (object,
        # time) index each).
        cursor.execute(
            f"SELECT o.diaobjectid, (SELECT min(p.midpointtai) FROM elasticc_diasource p "
            f"                       WHERE p.diaobjectid = o.diaobjectid), {object_select} "
            "FROM elasticc_diaobject o WHERE o.diaobjectid = ANY(%s::bigint[])",
            [number_array({objectid for objectid, _ in batch.heads.values()})],
        )
        first_t: dict[int, float] = {}
        for row in cursor.fetchall():
            first_t[row[0]] = row[1]
            batch.objects[row[0]] = row[2:]
        src_window: dict[int, list[float]] = {}
        forced_window: dict[int, list[float]] = {}
        for objectid, source in batch.heads.values():
            t, first = source[src_t], first_t[objectid]
            _widen(src_window, objectid, t - history_days, t)
            if t - first > SAME_NIGHT_DAYS:
                _widen(forced_window, objectid, max(first - FORCED_LEAD_DAYS, t - history_days), t)
        batch.sources = _fetch_history(
            cursor, "elasticc_diasource", "diasourceid", shape.source_fields, schema_version, src_window
        )
        batch.forced = _fetch_history(
            cursor, "elasticc_diaforcedsource", "diaforcedsourceid", shape.forced_fields, schema_version, forced_window
        )
    no_rows: tuple[list, list] = ([], [])
    for alertid in ids:
        head = batch.heads.get(alertid)
        if head is None:
            continue
        batch.order.append(alertid)
        objectid, source = head
        t = source[src_t]
        lo = t - history_days
        times = batch.sources.get(objectid, no_rows)[0]
        s_lo, s_hi = bisect_left(times, lo), bisect_left(times, t)
        f_lo = f_hi = 0
        first = first_t[objectid]
        if t - first > SAME_NIGHT_DAYS:
            times = batch.forced.get(objectid, no_rows)[0]
            f_lo, f_hi = bisect_left(times, max(first - FORCED_LEAD_DAYS, lo)), bisect_left(times, t)
        batch.ranges[alertid] = (s_lo, s_hi, f_lo, f_hi)
    return batch


def _widen(windows: dict[int, list[float]], objectid: int, lo: float, hi: float) -> None:
    w = windows.get(objectid)
    if w is None:
        windows[objectid] = [lo, hi]
    else:
        w[0], w[1] = min(w[0], lo), max(w[1], hi)


def _fetch_history(
    cursor, table: str, id_column: str, fields: tuple[str, ...], version: str, windows: dict[int, list[float]]
) -> dict[int, tuple[list, list]]:
    if not windows:
        return {}
    objectids = list(windows)
    cursor.execute(
        _history_query(table, "h", id_column, _Shape.select_list("h", fields, version)),
        [
            number_array(objectids),
            number_array(windows[o][0] for o in objectids),
            number_array(windows[o][1] for o in objectids),
        ],
    )
    return _group_by_object(cursor.fetchall(), fields.index("midPointTai"), fields.index("diaObjectId"))


def build_alerts(
    *, alert_ids: Sequence[int], schema_version: str = DEFAULT_SCHEMA_VERSION, history_days: float = 365.0
) -> list[dict]:
    """The Avro-ready alert dicts (camelCase keys) of `alert_ids`, in that
    order; ids not in `elasticc_diaalert` are omitted.

    Costs at most four queries whatever the number of ids (see the module
    docstring for the rules). History records shared between alerts of the
    same object are the same dict objects: treat the result as read-only.
    """
    batch = _fetch_batch(alert_ids, schema_version, history_days)
    shape = batch.shape
    source_dicts = {
        oid: [dict(zip(shape.source_fields, r, strict=True)) for r in rows] for oid, (_, rows) in batch.sources.items()
    }
    forced_dicts = {
        oid: [dict(zip(shape.forced_fields, r, strict=True)) for r in rows] for oid, (_, rows) in batch.forced.items()
    }
    object_dicts = {oid: dict(zip(shape.object_fields, r, strict=True)) for oid, r in batch.objects.items()}
    alerts = []
    for alertid in batch.order:
        objectid, source = batch.heads[alertid]
        s_lo, s_hi, f_lo, f_hi = batch.ranges[alertid]
        alert = {
            "alertId": alertid,
            "diaSource": dict(zip(shape.source_fields, source, strict=True)),
            "prvDiaSources": source_dicts.get(objectid, [])[s_lo:s_hi],
            "prvDiaForcedSources": forced_dicts.get(objectid, [])[f_lo:f_hi],
        }
        if schema_version == "v0_9":
            alert["prvDiaNondetectionLimits"] = None
        alert["diaObject"] = object_dicts[objectid]
        if schema_version == "v0_9":
            alert["cutoutDifference"] = None
            alert["cutoutTemplate"] = None
        alerts.append(alert)
    return alerts


def build_alert_payloads(
    *, alert_ids: Sequence[int], schema_version: str = DEFAULT_SCHEMA_VERSION, history_days: float = 365.0
) -> list[tuple[int, bytes]]:
    """(alertId, schemaless Avro bytes) of `alert_ids`, in that order, equal
    to `avro_codec.encode(build_alerts(...)[i], "alert", schema_version)`.

    The streaming path: rows are encoded straight from the query tuples
    (`elasticc.avro.row_encoder`), each history row once per batch however many
    alerts of the batch include it, and an alert is a join of those bytes.
    """
    batch = _fetch_batch(alert_ids, schema_version, history_days)
    enc_source = avro_rows.row_encoder("diaSource", schema_version)
    enc_forced = avro_rows.row_encoder("diaForcedSource", schema_version)
    enc_object = avro_rows.row_encoder("diaObject", schema_version)
    source_bytes = {oid: [enc_source(r) for r in rows] for oid, (_, rows) in batch.sources.items()}
    forced_bytes = {oid: [enc_forced(r) for r in rows] for oid, (_, rows) in batch.forced.items()}
    object_bytes = {oid: avro_rows.VALUE_BRANCH + enc_object(r) for oid, r in batch.objects.items()}
    value, encode_array, encode_long = avro_rows.VALUE_BRANCH, avro_rows.encode_array, avro_rows.encode_long
    v0_9 = schema_version == "v0_9"
    out = []
    for alertid in batch.order:
        objectid, source = batch.heads[alertid]
        s_lo, s_hi, f_lo, f_hi = batch.ranges[alertid]
        parts = [
            encode_long(alertid),
            enc_source(source),
            value,
            encode_array(source_bytes[objectid][s_lo:s_hi]) if s_hi > s_lo else avro_rows.EMPTY_ARRAY,
            value,
            encode_array(forced_bytes[objectid][f_lo:f_hi]) if f_hi > f_lo else avro_rows.EMPTY_ARRAY,
        ]
        if v0_9:
            parts.append(avro_rows.NULL_BRANCH)  # prvDiaNondetectionLimits
        parts.append(object_bytes[objectid])
        if v0_9:
            parts.append(avro_rows.NULL_BRANCH + avro_rows.NULL_BRANCH)  # cutouts
        out.append((alertid, b"".join(parts)))
    return out
