"""Schemaless Avro encoding of ELAsTiCC alerts and broker messages.

Kafka payloads in ELAsTiCC are bare `fastavro.schemaless_writer` bytes: no
container header, no schema-registry prefix, so reader and writer must agree
on the exact schema out of band. Our own schema files live in
`elasticc/avro/schemas/<version>/<name>.avsc` (versions `v0_9`, `v0_9_1`) and
are wire-compatible with the original ELAsTiCC schemas (tests/test_avro.py).

Parsing a schema is slow compared with encoding one record, so parsed schemas
are cached per (name, version); records that reference other named records
(`alert` -> `diaSource`, ...) get them resolved from the same directory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

from elasticc.avro.versions import UnknownSchemaError, check_schema_version

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_NAMES: tuple[str, ...] = (
    "diaSource",
    "diaForcedSource",
    "diaObject",
    "diaNondetectionLimit",
    "alert",
    "brokerClassification",
)


def _check(name: str, version: str) -> None:
    check_schema_version(version)
    if name not in SCHEMA_NAMES:
        raise UnknownSchemaError(f"unknown schema {name!r} (expected one of {', '.join(SCHEMA_NAMES)})")


@cache
def _named_schemas(version: str) -> dict[str, Any]:
    """Every record of one version parsed into one shared name table, in
    dependency order (the component records before `alert`)."""
    named: dict[str, Any] = {}
    for name in SCHEMA_NAMES:
        raw = json.loads((SCHEMA_DIR / version / f"{name}.avsc").read_text())
        fastavro.parse_schema(raw, named_schemas=named)
    return named


@cache
def parsed_schema(name: str, version: str) -> Any:
    """The fastavro-parsed schema of record `name` in `version`, named types
    resolved (cached)."""
    _check(name, version)
    raw = json.loads((SCHEMA_DIR / version / f"{name}.avsc").read_text())
    return fastavro.parse_schema(raw, named_schemas=dict(_named_schemas(version)))


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(v) for v in schema]
    return schema


@cache
def wire_schema(name: str, version: str) -> Any:
    """`parsed_schema` with the logical types left out: the same bytes, read
    as their plain Avro types (a timestamp-millis stays an int). brokerpoll
    decodes with it: building two datetimes per message only for it to turn
    them back into milliseconds cost more than its validation."""
    _check(name, version)
    raw = json.loads((SCHEMA_DIR / version / f"{name}.avsc").read_text())
    named = {k: _without_logical_types(v) for k, v in _named_schemas(version).items()}
    return fastavro.parse_schema(_without_logical_types(raw), named_schemas=named)


def encode(record: dict, name: str, version: str) -> bytes:
    """Schemaless Avro bytes of one record."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema(name, version), record)
    return buf.getvalue()


def encode_many(records: Iterable[dict], name: str, version: str) -> list[bytes]:
    """Schemaless Avro bytes of each record (one schema lookup, one buffer)."""
    schema = parsed_schema(name, version)
    buf = io.BytesIO()
    out: list[bytes] = []
    for record in records:
        buf.seek(0)
        buf.truncate()
        fastavro.schemaless_writer(buf, schema, record)
        out.append(buf.getvalue())
    return out


def decode(data: bytes, name: str, version: str, *, logical_types: bool = True) -> dict:
    """The record encoded in schemaless Avro `data` (with `logical_types`
    False, as its plain Avro types: see `wire_schema`).

    Raises ValueError (or EOFError, fastavro's signal for truncated input)
    when the bytes are not a valid record of that schema; trailing bytes are
    an error too, so a payload of another version does not decode silently.
    """
    buf = io.BytesIO(data)
    schema = parsed_schema(name, version) if logical_types else wire_schema(name, version)
    record = fastavro.schemaless_reader(buf, schema, None)
    if buf.tell() != len(data):
        raise ValueError(f"{len(data) - buf.tell()} trailing bytes after a {version} {name} record")
    return record
