"""Reading responses that may stream (SQL endpoint, metrics downloads,
follow-up light curves) or come whole (their errors)."""

from __future__ import annotations

import json
from typing import Any


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def json_body(response) -> Any:
    return json.loads(body(response))
