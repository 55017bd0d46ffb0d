"""A JSON renderer backed by orjson.

A page of 100 full alerts carries about 10^5 numbers (each alert repeats its
object's history); the standard library's encoder spends most of the
request formatting them (measured with bench/rest.py), orjson about a tenth
of that. Output is plain JSON, the same values; anything orjson does not know
natively (lazy translation strings, Decimal, ...) goes through DRF's encoder.
"""

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class ORJSONRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
