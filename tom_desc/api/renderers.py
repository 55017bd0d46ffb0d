"""A JSON renderer backed by orjson, a CSV renderer, and both encodings chunk by chunk.

A page of 100 full alerts carries about 10^5 numbers (each alert repeats its
object's history); the standard library's encoder spends most of the
request formatting them (measured with bench/rest.py), orjson about a tenth
of that. Output is plain JSON, the same values; anything orjson does not know
natively (lazy translation strings, Decimal, ...) goes through DRF's encoder.

The metrics downloads (`elasticc.api.metrics_views`) stream: `json_rows_chunks`
and `csv_rows_chunks` encode a list of rows a chunk at a time, byte for byte
what the renderers give for the whole list, so a download of any size
starts at once and holds one chunk in memory.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default
# Rows encoded per chunk of a streamed download (`json_rows_chunks`, `csv_rows_chunks`).
ROWS_PER_CHUNK = 1000


def _batches(rows: Iterable[Any], size: int) -> Iterator[list]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)


def json_rows_chunks(rows: Iterable[Any], rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """A JSON list encoded `rows_per_chunk` rows at a time, for a streamed
    download: the same bytes as `ORJSONRenderer` gives for the whole list,
    with only one chunk of rows in memory at a time (if `rows` is lazy)."""
    yield b"["
    separator = b""
    for batch in _batches(rows, rows_per_chunk):
        # One call per chunk, not per row: orjson gives every result a 4 KiB
        # buffer at least, so a thousand per-row results would hold 4 MiB.
        yield separator + _dumps(batch)[1:-1]
        separator = b","
    yield b"]"


def csv_rows_chunks(rows: Iterable[dict], rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """Flat rows (dicts with the same keys) as CSV with a header, `rows_per_chunk`
    rows per chunk; nothing at all for no rows (what `CSVRenderer` gives)."""
    out = io.StringIO()
    writer = None
    for batch in _batches(rows, rows_per_chunk):
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(batch[0]), lineterminator="\n")
            writer.writeheader()
        writer.writerows(batch)
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()


class ORJSONRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if data is None:
            return b""
        return _dumps(data)


class CSVRenderer(BaseRenderer):
    """A list of flat rows (dicts with the same keys) as CSV with a header:
    the download of a metrics endpoint, the same numbers as its JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return b"".join(csv_rows_chunks(data if isinstance(data, list) else [data]))
