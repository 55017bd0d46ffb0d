"""The OpenAPI schema class (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]). Apart
from `openapi.py` because DRF imports it while drf-spectacular's views, which
`openapi.py` imports, are being loaded."""

from typing import Any

from drf_spectacular.drainage import get_override
from drf_spectacular.openapi import AutoSchema


class PublicDescriptionSchema(AutoSchema):
    """drf-spectacular publishes a view's or serializer's docstring as its
    description; ours are written for developers (SQL, reasons, internals),
    so only descriptions given with `extend_schema(description=...)` or
    `extend_schema_serializer` are published."""

    def get_description(self) -> str:
        return ""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict:
        schema = super()._map_basic_serializer(serializer, direction)
        if get_override(serializer, "description") is None:
            schema.pop("description", None)
        return schema
