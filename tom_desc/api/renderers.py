"""A JSON renderer backed by orjson.

A page of 100 full alerts carries about 10^5 numbers (each alert repeats its
object's history); the standard library's encoder spends most of the
request formatting them (measured with bench/rest.py), orjson about a tenth
of that. Output is plain JSON, the same values; anything orjson does not know
natively (lazy translation strings, Decimal, ...) goes through DRF's encoder.
"""

import csv
import io
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class ORJSONRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)


class CSVRenderer(BaseRenderer):
    """A list of flat rows (dicts with the same keys) as CSV with a header:
    the download of a metrics endpoint, the same numbers as its JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        rows = data if isinstance(data, list) else [data]
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return out.getvalue().encode()
