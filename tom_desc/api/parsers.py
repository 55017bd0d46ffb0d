"""The JSON parser of every DRF view of the site.

DRF's JSONParser turns malformed JSON into a 400 ParseError but lets the
standard library's RecursionError through, so a body of 100,000 nested
brackets (a few hundred kilobytes) was a 500 with a traceback in the log.
Any JSON API body goes through this parser (REST_FRAMEWORK's
DEFAULT_PARSER_CLASSES), so the limit holds for every endpoint at once.
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser


class JSONParser(DrfJSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Python's own recursion limit is the depth limit: no real payload of this
            # API (broker messages, SQL requests) nests more than a few levels.
            raise ParseError("JSON parse error - the document is nested too deeply") from None
