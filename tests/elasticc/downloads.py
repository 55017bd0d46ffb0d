"""Reading the metrics downloads (/elasticc/metricsdata/...), which stream
when they answer rows and come whole when they answer an error."""

from __future__ import annotations

import csv
import io

from tests.responses import body


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response).decode())))
