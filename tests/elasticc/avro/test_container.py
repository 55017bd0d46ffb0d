"""The bounded Avro container reader: the same records as fastavro for every
codec it knows, and every decompressed size bounded."""

from __future__ import annotations

import io
import zlib

import fastavro
import pytest

from elasticc.avro.container import ContainerError, read_records
from tests.avro_encoding import avro_long

SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "rec",
        "fields": [{"name": "id", "type": "long"}, {"name": "text", "type": "string"}],
    }
)
RECORDS = [{"id": i, "text": "x" * (i % 50)} for i in range(2000)]
CAPS = {"max_record_bytes": 1 << 20, "max_block_bytes": 8 << 20}


def _container(records: list[dict], codec: str = "null", **kwargs) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, SCHEMA, records, codec=codec, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("codec", ["null", "deflate", "bzip2", "xz"])
def test_same_records_as_fastavro(codec):
    data = _container(RECORDS, codec, sync_interval=2000)
    assert list(read_records(io.BytesIO(data), SCHEMA, **CAPS)) == RECORDS == list(fastavro.reader(io.BytesIO(data)))


def test_a_block_that_expands_past_its_bound_is_refused_unexpanded():
    header = _container([], "deflate")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflate.compress(b"\x00" * (64 << 20)) + deflate.flush()
    data = header + avro_long(3) + avro_long(len(bomb)) + bomb + header[-16:]
    with pytest.raises(ContainerError, match=r"block 1: 3 records expand to more than 3145728 bytes"):
        list(read_records(io.BytesIO(data), SCHEMA, **CAPS))
    with pytest.raises(ContainerError, match=r"expand to more than 100000 bytes"):
        list(read_records(io.BytesIO(data), SCHEMA, max_record_bytes=1 << 20, max_block_bytes=100_000))


def test_a_block_size_past_its_bound_is_refused_unread():
    header = _container([])
    data = header + avro_long(1) + avro_long(1 << 40) + b"\x00" * 10
    with pytest.raises(ContainerError, match=r"block 1: 1099511627776 bytes for 1 records, more than 1048576"):
        list(read_records(io.BytesIO(data), SCHEMA, **CAPS))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda data: data[:-20], "block 1: truncated"),
        (lambda data: data[:-1] + b"?", "sync marker not found"),
        (lambda data: data[:40], "unreadable header"),
        (lambda data: b"Obj\x02" + data[4:], "wrong magic"),
    ],
)
def test_corrupt_containers_are_refused(mutate, message):
    with pytest.raises(ContainerError, match=message):
        list(read_records(io.BytesIO(mutate(_container(RECORDS[:5]))), SCHEMA, **CAPS))


def test_an_unknown_codec_and_a_huge_header_are_refused():
    data = _container(RECORDS[:5]).replace(b"\x08null", b"\x08lz4x", 1)
    with pytest.raises(ContainerError, match="codec 'lz4x' is not supported"):
        list(read_records(io.BytesIO(data), SCHEMA, **CAPS))
    huge = b"Obj\x01" + avro_long(1) + avro_long(1) + b"k" + avro_long(1 << 40)
    with pytest.raises(ContainerError, match="header larger than"):
        list(read_records(io.BytesIO(huge), SCHEMA, **CAPS))


def test_a_foreign_writer_schema_fails_at_the_first_record():
    other = fastavro.parse_schema({"type": "record", "name": "rec", "fields": [{"name": "id", "type": "string"}]})
    out = io.BytesIO()
    fastavro.writer(out, other, [{"id": "a"}])
    with pytest.raises(ContainerError, match="undecodable record"):
        list(read_records(io.BytesIO(out.getvalue()), SCHEMA, **CAPS))
