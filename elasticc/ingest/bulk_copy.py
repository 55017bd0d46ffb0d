"""Bulk writes of simulation/alert rows: the one hot path every loader shares.

The SNANA loader, the alert loader and the synthetic generator all move
millions of rows, so none of them touches the ORM per row. Rows are built as
columnar numpy/pyarrow arrays, serialised to CSV by pyarrow (C++, millions of
rows per second) and streamed with PostgreSQL COPY.

Two ways in:
- `stage_and_insert`: COPY into a TEMP staging table, then one
  `INSERT INTO <parent> SELECT ... ON CONFLICT DO NOTHING` per table. This is
  what makes a replay of the same input add nothing and not fail, and the
  statement-level row-count triggers (migration 0003) see only the rows that
  were really inserted. Always the parent table, never a partition, so the
  triggers fire.
- `copy_into`: COPY straight into the parent table, for rows known to be new
  (the synthetic generator checks its id range first), skipping the staging
  copy and the conflict checks.
- `insert_idempotent` picks between them per batch: when none of the batch's
  objects is in the database yet (the common first load) the rows go
  straight in; otherwise, or when a concurrent loader wins the race (unique
  violation, rolled back to a savepoint), through staging.

`LoadReport` is the result every loader returns and every command prints.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import IntegrityError, transaction

from elasticc.avro.columns import (
    DIAALERT_COLUMNS,
    DIAFORCEDSOURCE_COLUMNS,
    DIAOBJECT_COLUMNS,
    DIAOBJECTTRUTH_COLUMNS,
    DIASOURCE_COLUMNS,
    DIATRUTH_COLUMNS,
)
from elasticc.followup.services import forget_latest_magnitudes
from elasticc.models import TABLE_LABELS

# The tables a loader fills, in the order that satisfies the foreign keys
# (they are DEFERRABLE INITIALLY DEFERRED anyway; the order keeps checks cheap).
LOAD_ORDER: tuple[str, ...] = (
    "elasticc_diaobject",
    "elasticc_diasource",
    "elasticc_diaalert",
    "elasticc_diaforcedsource",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
)

_I64, _I32, _F64, _F32 = pa.int64(), pa.int32(), pa.float64(), pa.float32()
_DOUBLE_COLUMNS = {"ra", "decl", "dec", "midpointtai", "mjd", "peakmjd", "mjd_detect_first", "mjd_detect_last"}
_INT_COLUMNS = {"libid", "sim_searcheff_mask", "gentype", "sim_template_index", "nobs_saturate"}
_BIGINT_COLUMNS = {
    "diaobjectid",
    "diasourceid",
    "diaforcedsourceid",
    "alertid",
    "ccdvisitid",
    "parentdiasourceid",
    "galid",
}


def _arrow_type(table: str, column: str) -> pa.DataType:
    """The arrow type matching the PostgreSQL column (models.py): bigint ids,
    double for positions and times, real for the rest of the floats."""
    if column in _BIGINT_COLUMNS:
        return _I64
    if column in {"simversion", "filtername"}:
        return pa.string()
    if column in {"isddf", "detect"}:
        return pa.bool_()
    if column == "alertsenttimestamp":
        return pa.timestamp("us", tz="UTC")
    if column in _INT_COLUMNS or (column == "nobs" and table == "elasticc_diaobjecttruth"):
        return _I32
    if column in _DOUBLE_COLUMNS:
        return _F64
    return _F32


def _schema(table: str, columns: Sequence[str]) -> tuple[tuple[str, pa.DataType], ...]:
    return tuple((c, _arrow_type(table, c)) for c in columns)


# Arrow schema of each table, columns in `elasticc.avro.columns` order.
SCHEMAS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "elasticc_diaobject": _schema("elasticc_diaobject", DIAOBJECT_COLUMNS),
    "elasticc_diasource": _schema("elasticc_diasource", DIASOURCE_COLUMNS),
    "elasticc_diaalert": _schema("elasticc_diaalert", DIAALERT_COLUMNS),
    "elasticc_diaforcedsource": _schema("elasticc_diaforcedsource", DIAFORCEDSOURCE_COLUMNS),
    "elasticc_diatruth": _schema("elasticc_diatruth", DIATRUTH_COLUMNS),
    "elasticc_diaobjecttruth": _schema("elasticc_diaobjecttruth", DIAOBJECTTRUTH_COLUMNS),
}

_WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


@dataclass
class LoadReport:
    """What a load did: rows really inserted per table (rows read, for a dry
    run), the files that loaded, the files that failed with the reason, and
    the wall time."""

    counts: dict[str, int] = field(default_factory=lambda: {t: 0 for t in LOAD_ORDER})
    files_loaded: list[str] = field(default_factory=list)
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    elapsed: float = 0.0
    dry_run: bool = False
    _started: float = field(default_factory=time.perf_counter, repr=False)

    def add(self, counts: Mapping[str, int]) -> None:
        for table, n in counts.items():
            self.counts[table] = self.counts.get(table, 0) + int(n)

    def finish(self) -> LoadReport:
        self.elapsed = time.perf_counter() - self._started
        return self

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        return not self.files_failed

    def summary(self, *, unit: str = "files") -> str:
        """One line: counts per table, files (or other `unit`s), time and rate."""
        verb = "would load" if self.dry_run else "loaded"
        parts = ", ".join(f"{self.counts.get(t, 0):,} {TABLE_LABELS.get(t, t)}" for t in self.counts)
        rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
        failed = f", {len(self.files_failed)} failed" if self.files_failed else ""
        return (
            f"{verb} {parts} from {len(self.files_loaded)} {unit}{failed} in {self.elapsed:.1f} s ({rate:,.0f} rows/s)"
        )


def _csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, _WRITE_OPTIONS)
    return sink.getvalue()


def _copy(cursor, target: str, table: pa.Table) -> None:
    columns = ", ".join(table.column_names)
    with cursor.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(_csv_bytes(table))


def copy_into(cursor, tables: Mapping[str, pa.Table]) -> dict[str, int]:
    """COPY each arrow table straight into its (parent) table; rows must be new."""
    counts: dict[str, int] = {}
    for name in LOAD_ORDER:
        table = tables.get(name)
        if table is None or table.num_rows == 0:
            continue
        _copy(cursor, name, table)
        counts[name] = table.num_rows
    return counts


def stage_and_insert(cursor, tables: Mapping[str, pa.Table]) -> dict[str, int]:
    """COPY each arrow table into a TEMP staging copy of its table, then insert
    what is not there yet; returns the rows really inserted per table.

    Must run inside a transaction (the staging tables empty at commit).
    """
    counts: dict[str, int] = {}
    for name in LOAD_ORDER:
        table = tables.get(name)
        if table is None or table.num_rows == 0:
            continue
        stage = f"pg_temp.stage_{name}"
        columns = ", ".join(table.column_names)
        # One staging table per table and session, kept between batches
        # (creating a 75-column table per small file costs more than its
        # load); emptied at every commit, and here for batches that share a
        # transaction.
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage.split('.')[1]} (LIKE {name}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {stage}")
        _copy(cursor, stage, table)
        cursor.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING")
        counts[name] = max(cursor.rowcount, 0)
        if name == "elasticc_diaforcedsource" and counts[name]:
            forget_latest_magnitudes(cursor, staged=stage)
    return counts


def objects_present(cursor, objectids: Sequence[int]) -> bool:
    """Whether any of these objects has rows already (objects, or truth, which
    has no foreign key to them). Index probes only."""
    ids = list(map(int, objectids))
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM elasticc_diaobject WHERE diaobjectid = ANY(%s))"
        " OR EXISTS (SELECT 1 FROM elasticc_diaobjecttruth WHERE diaobjectid = ANY(%s))"
        " OR EXISTS (SELECT 1 FROM elasticc_diatruth WHERE diaobjectid = ANY(%s))",
        [ids, ids, ids],
    )
    return bool(cursor.fetchone()[0])


def insert_idempotent(cursor, tables: Mapping[str, pa.Table], objectids: Sequence[int]) -> dict[str, int]:
    """Insert a batch whose rows all belong to `objectids`, adding only what is
    not there yet. Must run inside a transaction."""
    if not objects_present(cursor, objectids):
        try:
            with transaction.atomic():
                return copy_into(cursor, tables)
        except IntegrityError:
            pass  # someone loaded some of these objects meanwhile: take the idempotent path
    return stage_and_insert(cursor, tables)


def categorical(codes: np.ndarray, categories: Sequence[str]) -> pa.Array:
    """A string column from small-integer codes into `categories` (built in
    C++; converting numpy string arrays element by element is the slow part
    of a load otherwise)."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(categories)))
    return dictionary.cast(pa.string())


def arrow_table(table: str, columns: Mapping[str, object]) -> pa.Table:
    """An arrow table of `table`'s columns in order, from numpy arrays or lists;
    a column missing from `columns` (or None) is all nulls."""
    n = next((len(v) for v in columns.values() if v is not None), 0)
    arrays = []
    schema = SCHEMAS[table]
    for name, dtype in schema:
        value = columns.get(name)
        if value is None:
            arrays.append(pa.nulls(n, type=dtype))
        elif isinstance(value, pa.Array):
            arrays.append(value if value.type == dtype else value.cast(dtype))
        elif isinstance(value, np.ma.MaskedArray):
            arrays.append(pa.array(value.data, mask=np.ma.getmaskarray(value), type=dtype))
        else:
            arrays.append(pa.array(value, type=dtype))
    return pa.Table.from_arrays(arrays, names=[name for name, _ in schema])
