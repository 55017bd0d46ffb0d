"""Load ELAsTiCC alerts from Avro files into objects, sources, forced sources
and alerts.

Accepted inputs (sniffed from the bytes, not trusted from the name):
schemaless single alerts (`fastavro.schemaless_writer`, schema version
v0_9 or v0_9_1 given by the caller), Avro container files (writer schema in
the header), gzip of either, tar archives (plain or compressed) of any of
those, and directories of such files.

Why it is shaped this way:
- One transaction per path given (a whole tarball is one unit): a member that
  does not decode rejects the path, names the member and the reason, and
  nothing from it is stored; other paths still load.
- The same source is in the history of many alerts of its object and the
  same object in all of them, so rows are de-duplicated in memory by id and
  inserted through staging tables with ON CONFLICT DO NOTHING, or straight
  in when none of the batch's objects is known yet
  (`elasticc.ingest.bulk_copy.insert_idempotent`): replays add nothing.
- Untrusted bytes: a container is read through our alert schema (a foreign
  writer schema fails), anything its decoder raises (a corrupt deflate
  block) rejects that path only, and a single alert may be at most
  `max_alert_bytes` (16 MiB) decompressed, read as a stream so that a gzip
  bomb is refused without being expanded. A container's blocks are
  decompressed by `elasticc.avro.container` to at most `max_alert_bytes` per
  record they hold and `max_block_bytes` (64 MiB) in all, so a deflate bomb
  in a container is refused too.
- Decoding is per record (fastavro); everything after it is columnar COPY,
  flushed every `batch_alerts` alerts inside the path's transaction, and tar
  archives are streamed member by member, so memory stays bounded on big
  night tarballs.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import pyarrow
from django.db import DatabaseError, connection, transaction
from tqdm import tqdm

from elasticc.avro import codec as avro_codec
from elasticc.avro import container as avro_container
from elasticc.avro.columns import (
    DIAFORCEDSOURCE_AVRO_FIELDS,
    DIAOBJECT_AVRO_FIELDS,
    DIASOURCE_AVRO_FIELDS,
    column,
)
from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, check_schema_version
from elasticc.ingest.bulk_copy import LoadReport, arrow_table, insert_idempotent

__all__ = ["AlertFormatError", "load_alert_files"]

ALERT_TABLES = ("elasticc_diaobject", "elasticc_diasource", "elasticc_diaalert", "elasticc_diaforcedsource")
CONTAINER_MAGIC = b"Obj\x01"
GZIP_MAGIC = b"\x1f\x8b"
# Placeholders the v0_9 alert builder writes for values ELAsTiCC2 data lack
# (required fields in v0_9 Avro); they load back as NULL.
MISSING_CCDVISITID = -1
# ELAsTiCC alerts with their whole history are tens of kilobytes; the bound
# keeps a decompression bomb from taking the loader's memory.
MAX_ALERT_BYTES = 16 << 20
# A container block (many alerts) decompressed; fastavro writes blocks of
# about 16 KB and Java Avro of 64 KB, so real containers are far below it.
MAX_BLOCK_BYTES = 64 << 20


class AlertFormatError(ValueError):
    """An input that is not a valid alert file (message names it and why)."""


def _container_records(
    stream: BinaryIO, name: str, schema_version: str, limit: int, block_limit: int
) -> Iterator[dict]:
    """The records of an Avro container, resolved to our alert schema: a
    writer schema of something else fails here, not later as a row of the
    wrong type. Read block by block, each decompressed within its bound
    (`elasticc.avro.container`), so a container is streamed."""
    try:
        yield from avro_container.read_records(
            stream,
            avro_codec.parsed_schema("alert", schema_version),
            max_record_bytes=limit,
            max_block_bytes=block_limit,
        )
    except avro_container.ContainerError as exc:
        raise AlertFormatError(f"{name}: corrupt, foreign or oversized Avro container ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:  # the gzip around a container
        raise AlertFormatError(f"{name}: corrupt or foreign Avro container ({type(exc).__name__}: {exc})") from exc


def _read_capped(stream: BinaryIO, name: str, limit: int, start: bytes = b"") -> bytes:
    """`start` and the rest of `stream`, refusing (before holding more)
    anything over `limit` bytes: a 300 KB gzip can expand to a gigabyte."""
    try:
        data = start + stream.read(max(limit - len(start), 0) + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise AlertFormatError(f"{name}: corrupt gzip ({exc})") from exc
    if len(data) > limit:
        raise AlertFormatError(f"{name}: expands to more than {limit} bytes (max_alert_bytes)")
    return data


def _alerts_in_bytes(
    data: bytes, name: str, schema_version: str, limit: int, block_limit: int, depth: int = 0
) -> Iterator[dict]:
    """Every alert record in one file's bytes, whatever the wrapping."""
    if depth > 3:
        raise AlertFormatError(f"{name}: nested too deep")
    if data[:2] == GZIP_MAGIC:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            data = _read_capped(stream, name, limit)
        yield from _alerts_in_bytes(data, name, schema_version, limit, block_limit, depth + 1)
    elif data[:4] == CONTAINER_MAGIC:
        yield from _container_records(io.BytesIO(data), name, schema_version, limit, block_limit)
    elif _is_tar(data):
        yield from _alerts_in_tar(data, name, schema_version, limit, block_limit, depth)
    else:
        try:
            yield avro_codec.decode(data, "alert", schema_version)
        except (ValueError, EOFError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise AlertFormatError(
                f"{name}: not a {schema_version} schemaless alert ({type(exc).__name__}: {exc})"
            ) from exc


def _is_tar(data: bytes) -> bool:
    # ustar magic at offset 257 (POSIX and GNU tar both write it).
    return len(data) >= 512 and data[257:262] == b"ustar"


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, limit: int) -> bytes | None:
    if member.size > limit:
        raise AlertFormatError(f"{name}:{member.name}: {member.size} bytes, more than {limit} (max_alert_bytes)")
    handle = archive.extractfile(member)
    return None if handle is None else handle.read()


def _alerts_in_tar(
    data: bytes, name: str, schema_version: str, limit: int, block_limit: int, depth: int
) -> Iterator[dict]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                content = _member_bytes(archive, member, name, limit)
                if content is not None:
                    yield from _alerts_in_bytes(
                        content, f"{name}:{member.name}", schema_version, limit, block_limit, depth + 1
                    )
    except tarfile.TarError as exc:
        raise AlertFormatError(f"{name}: corrupt tar archive ({exc})") from exc


def _alerts_in_file(path: Path, schema_version: str, limit: int, block_limit: int) -> Iterator[dict]:
    """Every alert of one file. Tar archives (plain or gzipped) are streamed
    member by member and containers block by block, so a night's file never
    has to fit in memory; anything else is one alert, read up to `limit`
    bytes (decompressed)."""
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw
            start = stream.read(512)
            if start[:4] == CONTAINER_MAGIC:
                stream.seek(0)
                yield from _container_records(stream, path.name, schema_version, limit, block_limit)
                return
            if not _is_tar(start):
                data = _read_capped(stream, path.name, limit, start)
                yield from _alerts_in_bytes(data, path.name, schema_version, limit, block_limit, 1 if gzipped else 0)
                return
    except (OSError, EOFError, zlib.error) as exc:
        raise AlertFormatError(f"{path.name}: unreadable or corrupt gzip ({exc})") from exc
    try:
        with tarfile.open(path, "r|gz" if gzipped else "r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                content = _member_bytes(archive, member, path.name, limit)
                if content is not None:
                    yield from _alerts_in_bytes(
                        content, f"{path.name}:{member.name}", schema_version, limit, block_limit, 1
                    )
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise AlertFormatError(f"{path.name}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from exc


def _paths(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to load (directories expanded, sorted) and paths that do not exist."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            missing.append((str(path), "no such file or directory"))
    return files, missing


class _Rows:
    """The rows of a batch of alerts, de-duplicated by id (first one wins)."""

    object_columns = tuple((f, column(f)) for f in DIAOBJECT_AVRO_FIELDS)
    source_columns = tuple((f, column(f)) for f in DIASOURCE_AVRO_FIELDS)
    forced_columns = tuple((f, column(f)) for f in DIAFORCEDSOURCE_AVRO_FIELDS)

    def __init__(self) -> None:
        self.objects: dict[int, dict] = {}
        self.sources: dict[int, dict] = {}
        self.forced: dict[int, dict] = {}
        self.alerts: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.alerts)

    def add(self, alert: dict, name: str) -> None:
        try:
            source = alert["diaSource"]
            self.alerts.setdefault(int(alert["alertId"]), (int(source["diaSourceId"]), int(source["diaObjectId"])))
            obj = alert.get("diaObject")
            if obj is not None:
                self.objects.setdefault(int(obj["diaObjectId"]), obj)
            for record in (source, *(alert.get("prvDiaSources") or ())):
                self.sources.setdefault(int(record["diaSourceId"]), record)
            for record in alert.get("prvDiaForcedSources") or ():
                self.forced.setdefault(int(record["diaForcedSourceId"]), record)
        except (KeyError, TypeError, ValueError) as exc:
            raise AlertFormatError(f"{name}: alert without required ids ({type(exc).__name__}: {exc})") from exc

    @staticmethod
    def _columns(records: list[dict], fields: tuple[tuple[str, str], ...]) -> dict[str, list]:
        out = {sql: [r.get(avro) for r in records] for avro, sql in fields}
        if "ccdvisitid" in out:
            out["ccdvisitid"] = [None if v == MISSING_CCDVISITID else v for v in out["ccdvisitid"]]
        for name in ("totflux", "totfluxerr"):
            if name in out:
                out[name] = [None if v is None or v != v else v for v in out[name]]  # NaN -> NULL
        return out

    def tables(self) -> dict:
        objects = self._columns(list(self.objects.values()), self.object_columns)
        objects["isddf"] = [False] * len(self.objects)
        alert_ids = list(self.alerts)
        return {
            "elasticc_diaobject": arrow_table("elasticc_diaobject", objects),
            "elasticc_diasource": arrow_table(
                "elasticc_diasource", self._columns(list(self.sources.values()), self.source_columns)
            ),
            "elasticc_diaalert": arrow_table(
                "elasticc_diaalert",
                {
                    "alertid": alert_ids,
                    "diasourceid": [self.alerts[a][0] for a in alert_ids],
                    "diaobjectid": [self.alerts[a][1] for a in alert_ids],
                },
            ),
            "elasticc_diaforcedsource": arrow_table(
                "elasticc_diaforcedsource", self._columns(list(self.forced.values()), self.forced_columns)
            ),
        }

    def objectids(self) -> list[int]:
        """Every object the batch's rows belong to."""
        ids = set(self.objects)
        ids.update(int(r["diaObjectId"]) for r in self.sources.values())
        ids.update(int(r["diaObjectId"]) for r in self.forced.values())
        return sorted(ids)

    def counts(self) -> dict[str, int]:
        return {
            "elasticc_diaobject": len(self.objects),
            "elasticc_diasource": len(self.sources),
            "elasticc_diaalert": len(self.alerts),
            "elasticc_diaforcedsource": len(self.forced),
        }


def _load_one(
    path: Path, *, schema_version: str, dry_run: bool, batch_alerts: int, limit: int, block_limit: int
) -> dict[str, int]:
    """Load one path in one transaction; returns rows inserted (read, if dry run)."""
    totals = dict.fromkeys(ALERT_TABLES, 0)

    def flush(rows: _Rows, cursor) -> None:
        try:
            tables = rows.tables()
        except (pyarrow.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise AlertFormatError(f"{path.name}: a value of the wrong type ({type(exc).__name__}: {exc})") from exc
        counts = rows.counts() if dry_run else insert_idempotent(cursor, tables, rows.objectids())
        for table, n in counts.items():
            totals[table] += n

    with transaction.atomic(), connection.cursor() as cursor:
        rows = _Rows()
        nalerts = 0
        for alert in _alerts_in_file(path, schema_version, limit, block_limit):
            rows.add(alert, path.name)
            nalerts += 1
            if len(rows) >= batch_alerts:
                flush(rows, cursor)
                rows = _Rows()
        if nalerts == 0:
            raise AlertFormatError(f"{path.name}: no alerts in file")
        flush(rows, cursor)
    return totals


def load_alert_files(
    *,
    paths: Sequence[Path],
    schema_version: str = DEFAULT_SCHEMA_VERSION,
    dry_run: bool = False,
    progress: bool = False,
    batch_alerts: int = 20_000,
    max_alert_bytes: int = MAX_ALERT_BYTES,
    max_block_bytes: int = MAX_BLOCK_BYTES,
) -> LoadReport:
    """Load alert files (see module docstring for the formats).

    Returns rows really inserted per table (rows read, for a dry run); a bad
    path is in `files_failed` with the reason and contributes nothing. A
    single alert (a file or tar member that is not a container or tar) may
    be at most `max_alert_bytes` decompressed; a container block at most
    `max_alert_bytes` per record it holds and `max_block_bytes` in all.
    """
    check_schema_version(schema_version)
    report = LoadReport(counts=dict.fromkeys(ALERT_TABLES, 0), dry_run=dry_run)
    files, missing = _paths(paths)
    report.files_failed.extend(missing)
    bar = tqdm(files, desc="alerts", unit="file", disable=not progress)
    for path in bar:
        try:
            counts = _load_one(
                path,
                schema_version=schema_version,
                dry_run=dry_run,
                batch_alerts=batch_alerts,
                limit=max_alert_bytes,
                block_limit=max_block_bytes,
            )
        except AlertFormatError as exc:
            report.files_failed.append((str(path), str(exc)))
            continue
        except DatabaseError as exc:  # a constraint, e.g. a source whose object is nowhere
            message = str(exc).strip().splitlines()[0]
            report.files_failed.append((str(path), f"{path.name}: rejected by the database ({message})"))
            continue
        report.add(counts)
        report.files_loaded.append(str(path))
        bar.set_postfix(alerts=report.counts["elasticc_diaalert"], refresh=False)
    return report.finish()
