"""Reading the metrics downloads (/elasticc/metricsdata/...), which stream
when they answer rows and come whole when they answer an error."""

from __future__ import annotations

import csv
import io
import json


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def json_body(response):
    return json.loads(body(response))


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response).decode())))
