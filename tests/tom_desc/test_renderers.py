"""The streamed encodings of the metrics downloads give, chunk by chunk, the
bytes the renderers give for the whole list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import orjson

from tom_desc.api.renderers import CSVRenderer, ORJSONRenderer, csv_rows_chunks, json_rows_chunks

ROWS = [
    {"classid": 111, "f1": 0.1 + 0.2, "day": date(2026, 1, 2), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {"classid": 112, "f1": None, "day": date(2026, 1, 3), "at": None},
    {"classid": 113, "f1": 1e-300, "day": date(2026, 1, 4), "at": datetime(2026, 1, 4, tzinfo=UTC)},
    {"classid": 114, "f1": 0.5, "day": date(2026, 1, 5), "at": None},
    {"classid": 115, "f1": 2.0, "day": date(2026, 1, 6), "at": None},
]


def _whole_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue().encode()


def test_chunks_are_the_whole_encoding():
    for n in range(len(ROWS) + 1):
        rows = ROWS[:n]
        json_chunks = list(json_rows_chunks(iter(rows), rows_per_chunk=2))
        assert b"".join(json_chunks) == orjson.dumps(rows) == ORJSONRenderer().render(rows)
        csv_chunks = list(csv_rows_chunks(iter(rows), rows_per_chunk=2))
        assert b"".join(csv_chunks) == _whole_csv(rows) == CSVRenderer().render(rows)
        # One chunk per two rows (plus the brackets of the JSON list).
        assert len(csv_chunks) == (n + 1) // 2
        assert len(json_chunks) == (n + 1) // 2 + 2


def test_rows_are_drawn_lazily():
    drawn = []

    def rows():
        for row in ROWS:
            drawn.append(row["classid"])
            yield row

    chunks = csv_rows_chunks(rows(), rows_per_chunk=2)
    next(chunks)
    assert drawn == [111, 112]
