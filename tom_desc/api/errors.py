"""One JSON error shape for every API failure: `{"error": "..."}`.

DRF's default bodies vary (`detail`, field dicts); clients of the DESC TOM
match on `error`, so the handler adds it while keeping DRF's details.
"""

from typing import Any

from django.http import JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler


def flatten_detail(detail: Any) -> str:
    """DRF error details (dicts, lists, strings) as one readable line."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {flatten_detail(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(flatten_detail(item) for item in detail)
    return str(detail)


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "error" in data:
        return response
    body = {"error": flatten_detail(data.get("detail", data) if isinstance(data, dict) else data)}
    if isinstance(data, dict) and set(data) - {"detail"}:
        body["details"] = data
    response.data = body
    return response


def json_error(message: str, *, status: int, **extra: Any) -> JsonResponse:
    """The error body of plain Django views (outside DRF's exception handler)."""
    return JsonResponse({"error": message, **extra}, status=status)
