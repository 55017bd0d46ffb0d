"""Strict parsing of the follow-up API's JSON bodies.

The original answered a bad body with a 500 and a traceback; its clients are
scripts, so a 400 whose message names the offending key is the useful
answer. Each endpoint declares its keys once (`Key`); the same declaration
checks bodies and describes them in the OpenAPI schema, so the two cannot
drift. Types are strict: `"5"` is not an integer and `true` is not a number.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

_DATETIME = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(?:Z|\+00:?00)?\s*$"
)


class BodyError(ValueError):
    """A body the API refuses; `key` is the offending key (None: the body itself)."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _is_int(value: Any) -> bool:
    """An integer PostgreSQL can hold (ids are bigint): larger ones are a 400, not a database error."""
    return isinstance(value, int) and not isinstance(value, bool) and _BIGINT_MIN <= value <= _BIGINT_MAX


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_utc(value: str, *, key: str) -> datetime:
    """ "YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]]" as UTC (a trailing Z or +00:00 is accepted)."""
    match = _DATETIME.match(value)
    if match is None:
        raise BodyError(f"'{key}' must be a date 'YYYY-MM-DD' or date-time 'YYYY-MM-DD HH:MM:SS' (UTC)", key=key)
    parts = [int(p) if p else 0 for p in match.groups()]
    micro = (match.group(7) or "").ljust(6, "0")
    try:
        return datetime(*parts[:6], int(micro or 0), tzinfo=UTC)
    except ValueError as exc:
        raise BodyError(f"'{key}': {exc}", key=key) from None


def _int(value: Any, key: str) -> int:
    if not _is_int(value):
        raise BodyError(f"'{key}' must be an integer", key=key)
    return value


def _float(value: Any, key: str) -> float:
    if not _is_number(value):
        raise BodyError(f"'{key}' must be a number", key=key)
    return float(value)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BodyError(f"'{key}' must be a non-empty string", key=key)
    return value.strip()


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise BodyError(f"'{key}' must be a string", key=key)
    return value


def _int_list(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise BodyError(f"'{key}' must be a list of integers", key=key)
    return value


def _int_or_list(value: Any, key: str) -> list[int]:
    return [value] if _is_int(value) else _int_list(value, key)


def _flag(value: Any, key: str) -> bool:
    if value not in (0, 1) or isinstance(value, float):
        raise BodyError(f"'{key}' must be 0 or 1", key=key)
    return bool(value)


def _format(value: Any, key: str) -> int:
    if not _is_int(value) or value not in (0, 1, 2):
        raise BodyError(f"'{key}' must be 0, 1 or 2", key=key)
    return value


def _datetime(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise BodyError(f"'{key}' must be a string 'YYYY-MM-DD[ HH:MM:SS]'", key=key)
    return parse_utc(value, key=key)


def _redshift(value: Any, key: str) -> float | None:
    if value == "" or value is None:
        return None
    return _float(value, key)


_KINDS = {
    "int": (_int, {"type": "integer"}),
    "float": (_float, {"type": "number"}),
    "str": (_str, {"type": "string"}),
    "text": (_text, {"type": "string"}),
    "intlist": (_int_list, {"type": "array", "items": {"type": "integer"}}),
    "ids": (_int_or_list, {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}),
    "flag": (_flag, {"type": "integer", "enum": [0, 1]}),
    "format": (_format, {"type": "integer", "enum": [0, 1, 2]}),
    "datetime": (_datetime, {"type": "string", "example": "2024-09-01 12:00:00"}),
    "z": (_redshift, {"oneOf": [{"type": "number"}, {"type": "string", "enum": [""]}]}),
}


@dataclass(frozen=True)
class Key:
    """One key of a body: its name, kind (see `_KINDS`), whether required,
    its default and what it means (the OpenAPI description)."""

    name: str
    kind: str
    help: str
    required: bool = False
    default: Any = None


def parse_body(body: Any, keys: Sequence[Key]) -> dict[str, Any]:
    """The body's values by key name (defaults filled in), or BodyError
    naming the first unknown, mistyped or missing key."""
    if body is None or body == "":
        body = {}
    if not isinstance(body, Mapping):
        raise BodyError("the body must be a JSON object")
    known = {key.name: key for key in keys}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise BodyError(f"unknown key '{unknown[0]}' (this endpoint takes: {', '.join(known)})", key=unknown[0])
    values: dict[str, Any] = {}
    for key in keys:
        if key.name in body:
            values[key.name] = _KINDS[key.kind][0](body[key.name], key.name)
        elif key.required:
            raise BodyError(f"missing required key '{key.name}'", key=key.name)
        else:
            values[key.name] = key.default
    return values


def not_both(body: Mapping[str, Any], first: str, second: str) -> None:
    """Refuse a body that gives both `first` and `second`."""
    if first in body and second in body:
        raise BodyError(f"give '{first}' or '{second}', not both", key=second)


def json_schema(keys: Sequence[Key]) -> dict:
    """The OpenAPI (JSON Schema) description of a body with these keys."""
    properties = {}
    for key in keys:
        schema = dict(_KINDS[key.kind][1])
        schema["description"] = key.help + (f" Default {key.default!r}." if key.default not in (None, "") else "")
        properties[key.name] = schema
    required = [key.name for key in keys if key.required]
    return {"type": "object", "properties": properties, "additionalProperties": False} | (
        {"required": required} if required else {}
    )


def as_date_or_datetime(value: date | datetime) -> datetime:
    """A page form's date (midnight UTC) or datetime (UTC when naive)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
