"""One JSON error shape for every API failure: `{"error": "..."}`.

DRF's default bodies vary (`detail`, field dicts); clients of the DESC TOM
match on `error`, so the handler adds it while keeping DRF's details.
"""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "error" in data:
        return response
    body = {"error": _flatten(data.get("detail", data) if isinstance(data, dict) else data)}
    if isinstance(data, dict) and set(data) - {"detail"}:
        body["details"] = data
    response.data = body
    return response
