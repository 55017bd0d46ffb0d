"""Encoding user-query results, batch by batch, so no result is ever whole in memory.

The SQL endpoint streams JSON or CSV chunks from these generators; the
long-query runner writes CSV or Parquet files with them. Types come from the
PostgreSQL type OIDs of the result columns, so every batch of a result is
encoded the same way (Parquet needs one schema for the whole file).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from db.sql_runner import JsonText, SqlQueryError, SqlStream

# PostgreSQL type OIDs whose values need converting for CSV / Arrow.
JSON_OIDS = frozenset({114, 3802})
BYTEA_OID = 17
NUMERIC_OID = 1700
ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    NUMERIC_OID: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


_django_json = DjangoJSONEncoder()


def _json_value(o: Any) -> Any:
    """JSON for what orjson does not encode itself: datetimes as Django writes
    them (ISO, milliseconds, `Z`; as the original endpoint returned them),
    Decimal as a string, bytea as hex, and every other PostgreSQL type (inet,
    ranges, intervals, ...) as its text."""
    if isinstance(o, bytes | memoryview):
        return bytes(o).hex()
    try:
        return _django_json.default(o)
    except TypeError:
        return str(o)


def _datetime_json(o: Any) -> Any:
    """DjangoJSONEncoder's datetime text without its dispatch (hot: one call per value)."""
    if not isinstance(o, datetime):
        return o
    r = o.isoformat()
    if o.microsecond:
        r = r[:23] + r[26:]
    if r.endswith("+00:00"):
        r = r[:-6] + "Z"
    return r


def _decimal_json(o: Any) -> Any:
    return o if o is None else str(o)


# Columns converted up front, a column at a time, rather than through orjson's
# `default` callback per value (several times slower for large results).
_JSON_COLUMN_CONVERTERS: dict[int, Callable[[Any], Any]] = {
    1114: _datetime_json,
    1184: _datetime_json,
    NUMERIC_OID: _decimal_json,
}


def _json_rows(keys: list[str], type_oids: list[int], batch: list[tuple]) -> list[dict]:
    converters = [(i, conv) for i, oid in enumerate(type_oids) if (conv := _JSON_COLUMN_CONVERTERS.get(oid))]
    if not converters:
        return [dict(zip(keys, row, strict=True)) for row in batch]
    columns = list(zip(*batch, strict=True))
    for i, conv in converters:
        columns[i] = [conv(v) for v in columns[i]]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _dumps(value: Any) -> bytes:
    """orjson, which writes NaN and infinities as null (they are not JSON)."""
    return orjson.dumps(value, default=_json_value, option=orjson.OPT_PASSTHROUGH_DATETIME)


def _json_text(value: Any) -> str:
    """A value orjson cannot encode, as text: its JSON by the standard library
    (integers past 64 bits, nesting past orjson's 254 levels), else `str`."""
    for encode in (lambda v: json.dumps(v, default=_json_value), str):
        try:
            return encode(value)
        except (RecursionError, TypeError, ValueError):
            continue
    return f"<{type(value).__name__} value that has no JSON form>"


def _dumps_rows(rows: list[dict]) -> bytes:
    """A batch of rows as JSON. A value orjson refuses (it checks types as it
    writes, so only once the response has begun) becomes its text, so every
    value encodes."""
    try:
        return _dumps(rows)
    except orjson.JSONEncodeError:
        return _dumps([{key: _encodable(value) for key, value in row.items()} for row in rows])


def _encodable(value: Any) -> Any:
    try:
        _dumps(value)
    except orjson.JSONEncodeError:
        return _json_text(value)
    return value


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique (`a`, `a_1`, ...), so `SELECT 1 AS a, 2 AS a` keeps both values.

    A suffix never takes a name the result already has (`a, a, a_1` gives
    `a, a_2, a_1`), nor one given before."""
    counts: dict[str, int] = {}
    taken = set(names)
    out = []
    for name in names:
        count = counts.get(name, 0)
        candidate = name
        if count:
            while (candidate := f"{name}_{count}") in taken:
                count += 1
            taken.add(candidate)
        counts[name] = count + 1
        out.append(candidate)
    return out


class _ResponseBudget:
    """Counts response bytes against SQL_MAX_RESPONSE_BYTES."""

    def __init__(self) -> None:
        self.limit = settings.SQL_MAX_RESPONSE_BYTES
        self.sent = 0

    def spend(self, chunk: bytes) -> bytes:
        self.sent += len(chunk)
        if self.sent > self.limit:
            raise SqlQueryError(
                f"the response is larger than {self.limit} bytes (setting SQL_MAX_RESPONSE_BYTES); "
                "add a LIMIT, select fewer columns or submit it as a long query"
            )
        return chunk


def json_chunks(stream: SqlStream) -> Iterator[bytes]:
    """`{"columns": [...], "rows": [...], "status": "ok"}`, one chunk per batch.

    `status` comes last so that an error after rows were sent (row cap, timeout,
    size cap) still yields a well-formed document whose status is "error".
    Rows are objects keyed by `columns`, the result's names made unique
    (`unique_names`), so `columns` names every key of a row.
    """
    keys = unique_names(stream.columns)
    budget = _ResponseBudget()
    yield b'{"columns": ' + _dumps(keys) + b', "rows": ['
    separator = b""
    try:
        for batch in stream.batches():
            body = _dumps_rows(_json_rows(keys, stream.type_oids, batch))[1:-1]
            if body:
                yield budget.spend(separator + body)
                separator = b","
    except SqlQueryError as exc:
        stream.close()
        yield b'], "status": "error", "error": ' + _dumps(str(exc)) + b"}"
        return
    yield b'], "status": "ok"}'


class ResponseChunks:
    """The body of a streamed response. Django calls `close()` when the
    response ends, even if the client left before the first chunk (when a
    generator's own `finally` never runs), so the stream's connection is
    always closed and its duration logged."""

    def __init__(self, stream: SqlStream, chunks: Iterator[bytes]) -> None:
        self.stream = stream
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        self.chunks.close()
        self.stream.close()


def _csv_converter(oid: int) -> Callable[[Any], Any] | None:
    if oid in JSON_OIDS:
        return lambda v: v if v is None or isinstance(v, JsonText) else _json_text(v)
    if oid == BYTEA_OID:
        return lambda v: None if v is None else bytes(v).hex()
    if oid in (1082, 1083, 1114, 1184):
        return lambda v: v.isoformat() if isinstance(v, datetime | date | time) else v
    return None


def _csv_rows(type_oids: list[int], batch: list[tuple]) -> Iterable[tuple]:
    converters = [(i, conv) for i, oid in enumerate(type_oids) if (conv := _csv_converter(oid)) is not None]
    if not converters:
        return batch
    out = []
    for row in batch:
        values = list(row)
        for i, conv in converters:
            values[i] = conv(values[i])
        out.append(values)
    return out


def csv_chunks(stream: SqlStream) -> Iterator[bytes]:
    """CSV with a header line, one chunk per batch. An error after rows were
    sent ends the text with a line `#ERROR: <message>` (the client checks it)."""
    if stream.copy_query is not None:
        yield from _copied_csv_chunks(stream)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(stream.columns)
    yield buffer.getvalue().encode()
    budget = _ResponseBudget()
    try:
        for batch in stream.batches():
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(_csv_rows(stream.type_oids, batch))
            yield budget.spend(buffer.getvalue().encode())
    except SqlQueryError as exc:
        stream.close()
        yield f"#ERROR: {exc}\n".encode()


class _MemoryBudget:
    """Counts the bytes of the Arrow batches of a result that will be held in
    memory whole (the pandas format) against LONG_QUERY_PANDAS_MAX_BYTES."""

    def __init__(self) -> None:
        self.limit = settings.LONG_QUERY_PANDAS_MAX_BYTES
        self.held = 0

    def spend(self, nbytes: int) -> None:
        self.held += nbytes
        if self.held > self.limit:
            raise SqlQueryError(
                f"the result is larger than {self.limit} bytes in memory (setting LONG_QUERY_PANDAS_MAX_BYTES), "
                "too large for one pandas DataFrame; use format parquet or csv, or select fewer rows or columns"
            )


def _check_file_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise SqlQueryError(
            f"the result is larger than {max_bytes} bytes (setting LONG_QUERY_MAX_BYTES); select fewer rows or columns"
        )


def _copied_csv_chunks(stream: SqlStream) -> Iterator[bytes]:
    budget = _ResponseBudget()
    try:
        for chunk in stream.csv_chunks():
            yield budget.spend(chunk)
    except SqlQueryError as exc:
        stream.close()
        yield f"#ERROR: {exc}\n".encode()


def write_csv(stream: SqlStream, path: Path, *, max_bytes: int | None = None) -> int:
    """Write the whole result to `path` as CSV; returns the row count."""
    if stream.copy_query is not None:
        with path.open("wb") as fh:
            for chunk in stream.csv_chunks():
                fh.write(chunk)
                _check_file_size(fh.tell(), max_bytes)
        return stream.rows_sent
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(stream.columns)
        for batch in stream.batches():
            writer.writerows(_csv_rows(stream.type_oids, batch))
            _check_file_size(fh.tell(), max_bytes)
    return stream.rows_sent


def _arrow_column(oid: int, values: tuple, type_: pa.DataType) -> pa.Array:
    if oid == NUMERIC_OID:
        values = tuple(None if v is None else float(v) for v in values)
    elif oid not in ARROW_TYPES:
        conv = _csv_converter(oid) or (lambda v: v if v is None or isinstance(v, str) else str(v))
        values = tuple(conv(v) if v is not None else None for v in values)
    return pa.array(values, type=type_)


class _ChunkFile(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (pyarrow's CSV reader
    reads from it); keeps the iterator's exception for the caller."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except BaseException as exc:
                self.error = exc
                raise
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _parquet_schema(stream: SqlStream) -> pa.Schema:
    types = [ARROW_TYPES.get(oid, pa.string()) for oid in stream.type_oids]
    return pa.schema([pa.field(name, type_) for name, type_ in zip(unique_names(stream.columns), types, strict=True)])


def write_parquet(
    stream: SqlStream, path: Path, *, max_bytes: int | None = None, memory: _MemoryBudget | None = None
) -> int:
    """Write the whole result to `path` as Parquet, a row group per block read.

    From a `copy_query` stream, Arrow's CSV reader (C++) parses PostgreSQL's
    CSV into typed columns, block by block: no value passes through Python,
    several times faster than converting fetched rows, with memory bounded by
    the block size. PostgreSQL's CSV tells NULL (an empty unquoted field) from
    an empty string (`""`); bytea arrives as `\\x<hex>` and is stored as
    the hex; other types without an Arrow counterpart keep PostgreSQL's text.
    With `memory`, each batch read also counts against that budget."""
    schema = _parquet_schema(stream)
    if stream.copy_query is None:
        return _write_parquet_rows(stream, path, schema, max_bytes=max_bytes, memory=memory)
    source = _ChunkFile(stream.csv_chunks())
    try:
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(column_names=schema.names, skip_rows=1, block_size=1 << 23),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict(zip(schema.names, schema.types, strict=True)),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        bytea = [i for i, oid in enumerate(stream.type_oids) if oid == BYTEA_OID]
        with pq.ParquetWriter(path, schema) as writer:
            for batch in reader:
                for i in bytea:
                    batch = batch.set_column(i, schema.field(i), pc.utf8_slice_codeunits(batch.column(i), 2))
                if memory is not None:
                    memory.spend(batch.nbytes)
                writer.write_batch(batch)
                _check_file_size(path.stat().st_size, max_bytes)
            if not stream.rows_sent:
                writer.write_table(schema.empty_table())
    except SqlQueryError:
        raise
    except Exception as exc:
        if isinstance(source.error, SqlQueryError):
            raise source.error from exc
        raise SqlQueryError(f"the result could not be written as Parquet: {exc}") from exc
    finally:
        stream.close()
    return stream.rows_sent


def _write_parquet_rows(
    stream: SqlStream, path: Path, schema: pa.Schema, *, max_bytes: int | None, memory: _MemoryBudget | None
) -> int:
    with pq.ParquetWriter(path, schema) as writer:
        wrote = False
        for batch in stream.batches():
            columns = list(zip(*batch, strict=True))
            arrays = [
                _arrow_column(oid, column, type_)
                for oid, column, type_ in zip(stream.type_oids, columns, schema.types, strict=True)
            ]
            record_batch = pa.record_batch(arrays, schema=schema)
            if memory is not None:
                memory.spend(record_batch.nbytes)
            writer.write_batch(record_batch)
            wrote = True
            _check_file_size(path.stat().st_size, max_bytes)
        if not wrote:
            writer.write_table(schema.empty_table())
    return stream.rows_sent


def write_pickled_dataframe(stream: SqlStream, path: Path, *, max_bytes: int | None = None) -> int:
    """The original TOM's `pandas` format: the result as one pickled pandas
    DataFrame. It goes through Parquet first, so the rows are typed the same
    way and memory holds one copy of the result when the frame is built.
    The frame is the whole result in memory, so the batches read are counted
    as they come and the query stops once they pass
    LONG_QUERY_PANDAS_MAX_BYTES, before any frame is built."""
    staged = path.with_name(path.name + ".parquet")
    try:
        rows = write_parquet(stream, staged, max_bytes=max_bytes, memory=_MemoryBudget())
        pq.read_table(staged).to_pandas().to_pickle(path)
    finally:
        staged.unlink(missing_ok=True)
    return rows
