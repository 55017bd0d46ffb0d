"""Schemaless Avro encoding of ELAsTiCC alerts and broker messages.

Kafka payloads in ELAsTiCC are bare `fastavro.schemaless_writer` bytes: no
container header, no schema-registry prefix, so reader and writer must agree
on the exact schema out of band. Our own schema files live in
`elasticc/avro_schemas/<version>/<name>.avsc` (versions `v0_9`, `v0_9_1`) and
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

SCHEMA_DIR = Path(__file__).resolve().parent / "avro_schemas"
SCHEMA_VERSIONS: tuple[str, ...] = ("v0_9", "v0_9_1")
SCHEMA_NAMES: tuple[str, ...] = (
    "diaSource",
    "diaForcedSource",
    "diaObject",
    "diaNondetectionLimit",
    "alert",
    "brokerClassification",
)


class UnknownSchemaError(ValueError):
    """Asked for a schema name or version that does not exist."""


def _check(name: str, version: str) -> None:
    if version not in SCHEMA_VERSIONS:
        raise UnknownSchemaError(f"unknown schema version {version!r} (expected one of {', '.join(SCHEMA_VERSIONS)})")
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


def decode(data: bytes, name: str, version: str) -> dict:
    """The record encoded in schemaless Avro `data`.

    Raises ValueError (or EOFError, fastavro's signal for truncated input)
    when the bytes are not a valid record of that schema; trailing bytes are
    an error too, so a payload of another version does not decode silently.
    """
    buf = io.BytesIO(data)
    record = fastavro.schemaless_reader(buf, parsed_schema(name, version), None)
    if buf.tell() != len(data):
        raise ValueError(f"{len(data) - buf.tell()} trailing bytes after a {version} {name} record")
    return record
