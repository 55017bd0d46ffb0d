"""Reading Avro object container files with every decompressed size bounded.

fastavro's `reader` decompresses each block whole (`zlib.decompress` of the
block's bytes), and a block says neither how large it will be nor is it
limited in size: a 415 KB file of one deflate block grew a loader by 800 MB.
So the container is read here, block by block, as the Avro specification
lays it out (header: magic, metadata map, sync marker; then blocks of
record count, byte count, data, sync marker):

- the header goes through fastavro's own reader over a stream that refuses
  to give more than `MAX_HEADER_BYTES`;
- a block's compressed bytes are read only when their count is within the
  block's bound, and are decompressed by an incremental decompressor asked
  for at most the bound plus one byte, so a block that expands further is
  refused without being expanded;
- the records of a block are decoded by fastavro (`schemaless_reader`), with
  the writer schema of the header resolved to the caller's reader schema.

A block's bound is `max_record_bytes` per record it holds, and never more
than `max_block_bytes`. Codecs: null, deflate, bzip2 and xz (those the
standard library decompresses incrementally); others are refused by name.
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import fastavro

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
# The header holds the writer schema (tens of kilobytes for ELAsTiCC alerts).
MAX_HEADER_BYTES = 4 << 20
# The Avro specification's header, as a record fastavro reads.
HEADER_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "org.apache.avro.file.Header",
        "fields": [
            {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": len(MAGIC)}},
            {"name": "meta", "type": {"type": "map", "values": "bytes"}},
            {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": SYNC_SIZE}},
        ],
    }
)


class ContainerError(ValueError):
    """A container that is corrupt, foreign or over a bound (the message says which)."""


class _Capped(io.RawIOBase):
    """`stream`, refusing to give more than `limit` bytes in all."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            raise ContainerError(f"header larger than {self._limit} bytes")
        data = self._stream.read(size)
        self._left -= len(data)
        return data


def _read_long(stream: BinaryIO, *, at_start: bool = False) -> int | None:
    """An Avro long (zig-zag varint); None at the end of the stream when
    `at_start` (no more blocks)."""
    shift = result = 0
    while True:
        byte = stream.read(1)
        if not byte:
            if at_start and shift == 0:
                return None
            raise ContainerError("truncated block header")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7
        if shift > 63:
            raise ContainerError("malformed block header (varint longer than 64 bits)")


def _null(data: bytes, limit: int) -> bytes:
    return data


def _bounded(decompressor: Any, data: bytes, limit: int) -> bytes:
    return decompressor.decompress(data, limit + 1)


DECOMPRESSORS = {
    "null": _null,
    "deflate": lambda data, limit: _bounded(zlib.decompressobj(-15), data, limit),
    "bzip2": lambda data, limit: _bounded(bz2.BZ2Decompressor(), data, limit),
    "xz": lambda data, limit: _bounded(lzma.LZMADecompressor(), data, limit),
}


def read_header(stream: BinaryIO) -> tuple[dict, str, bytes]:
    """(writer schema, codec, sync marker) of the container `stream` begins."""
    try:
        header = fastavro.schemaless_reader(_Capped(stream, MAX_HEADER_BYTES), HEADER_SCHEMA)
    except ContainerError:
        raise
    except Exception as exc:  # untrusted bytes: whatever the decoder raises
        raise ContainerError(f"unreadable header ({type(exc).__name__}: {exc})") from exc
    if header["magic"] != MAGIC:
        raise ContainerError("not an Avro container (wrong magic)")
    meta = header["meta"]
    try:
        schema = json.loads(meta["avro.schema"])
        codec = meta.get("avro.codec", b"null").decode()
    except (KeyError, ValueError) as exc:
        raise ContainerError(f"header without a readable writer schema ({type(exc).__name__}: {exc})") from exc
    if codec not in DECOMPRESSORS:
        raise ContainerError(f"codec {codec!r} is not supported (only {', '.join(DECOMPRESSORS)})")
    return schema, codec, header["sync"]


def read_blocks(
    stream: BinaryIO, codec: str, sync: bytes, *, max_record_bytes: int, max_block_bytes: int
) -> Iterator[tuple[int, bytes]]:
    """(record count, decompressed data) of each block, each within its bound."""
    decompress = DECOMPRESSORS[codec]
    number = 0
    while True:
        count = _read_long(stream, at_start=True)
        if count is None:
            return
        number += 1
        size = _read_long(stream)
        if count < 0 or size is None or size < 0:
            raise ContainerError(f"block {number}: negative record or byte count")
        limit = min(count * max_record_bytes, max_block_bytes)
        if size > limit:
            raise ContainerError(f"block {number}: {size} bytes for {count} records, more than {limit}")
        data = stream.read(size)
        if len(data) != size:
            raise ContainerError(f"block {number}: truncated")
        if stream.read(SYNC_SIZE) != sync:
            raise ContainerError(f"block {number}: sync marker not found")
        try:
            data = decompress(data, limit)
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
            raise ContainerError(f"block {number}: corrupt {codec} data ({exc})") from exc
        if len(data) > limit:
            raise ContainerError(
                f"block {number}: {count} records expand to more than {limit} bytes "
                f"(at most max_record_bytes={max_record_bytes} a record, max_block_bytes={max_block_bytes} a block)"
            )
        yield count, data


def read_records(
    stream: BinaryIO, reader_schema: Any, *, max_record_bytes: int, max_block_bytes: int
) -> Iterator[dict]:
    """The records of the container `stream`, resolved to `reader_schema`
    (a fastavro-parsed schema): a writer schema that does not resolve to it
    fails at the first record. Raises ContainerError for anything wrong."""
    writer_schema, codec, sync = read_header(stream)
    try:
        writer = fastavro.parse_schema(writer_schema)
    except Exception as exc:
        raise ContainerError(f"invalid writer schema ({type(exc).__name__}: {exc})") from exc
    for count, data in read_blocks(
        stream, codec, sync, max_record_bytes=max_record_bytes, max_block_bytes=max_block_bytes
    ):
        block = io.BytesIO(data)
        for _ in range(count):
            try:
                record = fastavro.schemaless_reader(block, writer, reader_schema)
            except Exception as exc:  # untrusted bytes: schema resolution and decoding errors alike
                raise ContainerError(f"undecodable record ({type(exc).__name__}: {exc})") from exc
            yield record
