"""Alert files (every wrapping, both schema versions) load back to the same rows."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
import zlib
from pathlib import Path

import fastavro
import numpy as np
import pytest
from django.db import connection

from elasticc.avro import codec as avro_codec
from elasticc.ingest.alert_files import load_alert_files
from elasticc.ingest.snana import load_snana_dirs
from elasticc.read.counts import row_counts
from elasticc.stream.alert_builder import build_alerts
from tests.avro_encoding import avro_long
from tests.manage_py import run_manage

pytestmark = pytest.mark.django_db

TABLES = {
    "elasticc_diaobject": "diaobjectid",
    "elasticc_diasource": "diasourceid",
    "elasticc_diaalert": "alertid",
    "elasticc_diaforcedsource": "diaforcedsourceid",
}


def _rows(table: str) -> dict[int, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        names = [d.name for d in cursor.description]
        key = names.index(TABLES[table])
        return {row[key]: row for row in cursor.fetchall()}


def _wipe() -> None:
    with connection.cursor() as cursor:
        for table in ("elasticc_diaalert", "elasticc_diasource", "elasticc_diaforcedsource", "elasticc_diaobject"):
            cursor.execute(f"DELETE FROM {table}")


def _tar(path: Path, members: dict[str, bytes]) -> None:
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _inline(node, named: dict, seen: set):
    """A self-contained schema: each named type defined where first used."""
    if isinstance(node, str):
        if node in named and node not in seen:
            seen.add(node)
            return _inline(named[node], named, seen)
        return node
    if isinstance(node, list):
        return [_inline(n, named, seen) for n in node]
    if isinstance(node, dict):
        if node.get("type") == "record":
            seen.add(node["name"])
        return {k: _inline(v, named, seen) for k, v in node.items() if not k.startswith("__")}
    return node


def _write_alert_files(directory: Path, alerts: list[dict], version: str) -> None:
    """The sample's alerts in every supported wrapping (each alert at least once)."""
    directory.mkdir()
    payloads = [(a["alertId"], avro_codec.encode(a, "alert", version)) for a in alerts]
    quarter = len(payloads) // 4
    parts = [payloads[:quarter], payloads[quarter : 2 * quarter], payloads[2 * quarter : 3 * quarter]]
    rest = payloads[3 * quarter :]
    # The public distribution: a tarball of gzipped schemaless alerts per night.
    _tar(directory / "night1.tar.gz", {f"alert_{i}.avro.gz": gzip.compress(p) for i, p in parts[0]})
    # A plain tar of schemaless alerts.
    _tar(directory / "night2.tar", {f"alert_{i}.avro": p for i, p in parts[1]})
    # An Avro container file (its header needs the fully expanded schema), gzipped.
    schema = _inline(avro_codec.parsed_schema("alert", version), dict(avro_codec._named_schemas(version)), set())
    container = io.BytesIO()
    fastavro.writer(container, schema, alerts[2 * quarter : 3 * quarter])
    (directory / "container.avro.gz").write_bytes(gzip.compress(container.getvalue()))
    # Single schemaless files, plain and gzipped.
    for n, (alertid, payload) in enumerate(rest):
        if n % 2:
            (directory / f"{alertid}.avro").write_bytes(payload)
        else:
            (directory / f"{alertid}.avro.gz").write_bytes(gzip.compress(payload))


@pytest.fixture
def sample_rows_and_alerts(sample_snana_dir):
    report = load_snana_dirs(dirs=sorted(p for p in sample_snana_dir.iterdir() if p.is_dir()))
    assert report.files_failed == []
    snapshot = {table: _rows(table) for table in TABLES}
    alert_ids = sorted(snapshot["elasticc_diaalert"])
    alerts = {version: build_alerts(alert_ids=alert_ids, schema_version=version) for version in ("v0_9", "v0_9_1")}
    _wipe()
    return snapshot, alerts


@pytest.mark.slow
@pytest.mark.parametrize("version", ["v0_9", "v0_9_1"])
def test_alert_files_load_back_to_the_same_rows(sample_rows_and_alerts, tmp_path, version):
    snapshot, alerts = sample_rows_and_alerts
    _write_alert_files(tmp_path / "alerts", alerts[version], version)
    report = load_alert_files(paths=[tmp_path / "alerts"], schema_version=version)
    assert report.files_failed == []
    in_histories = {f["diaForcedSourceId"] for a in alerts[version] for f in a["prvDiaForcedSources"]}
    assert 0 < len(in_histories) < len(snapshot["elasticc_diaforcedsource"])
    expected_counts = {
        "elasticc_diaobject": 346,
        "elasticc_diasource": 1862,
        "elasticc_diaalert": 1862,
        "elasticc_diaforcedsource": len(in_histories),
    }
    assert report.counts == expected_counts
    assert row_counts(list(TABLES)) == expected_counts
    for table in ("elasticc_diaobject", "elasticc_diasource", "elasticc_diaalert"):
        assert _rows(table) == snapshot[table], table
    forced = snapshot["elasticc_diaforcedsource"]
    assert _rows("elasticc_diaforcedsource") == {i: forced[i] for i in in_histories}

    again = load_alert_files(paths=[tmp_path / "alerts"], schema_version=version)
    assert again.files_failed == []
    assert again.rows == 0
    assert row_counts(list(TABLES)) == expected_counts


def test_sample_alerts_load_their_published_values(shared_dir):
    sample = shared_dir / "elasticc" / "sample" / "alerts"
    report = load_alert_files(paths=sorted(sample.glob("*.schemaless.avro")))
    assert report.files_failed == []
    assert report.counts["elasticc_diaalert"] == 3
    objects, sources = _rows("elasticc_diaobject"), _rows("elasticc_diasource")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM elasticc_diaobject LIMIT 0")
        object_columns = [d.name for d in cursor.description]
        cursor.execute("SELECT * FROM elasticc_diasource LIMIT 0")
        source_columns = [d.name for d in cursor.description]
    for path in sorted(sample.glob("*.json")):
        alert = json.loads(path.read_text())
        for record, rows, columns, key in (
            (alert["diaObject"], objects, object_columns, "diaObjectId"),
            (alert["diaSource"], sources, source_columns, "diaSourceId"),
        ):
            row = dict(zip(columns, rows[record[key]], strict=True))
            for field, value in record.items():
                stored = row[field.lower()]
                if isinstance(value, float):
                    assert np.float32(stored) == np.float32(value), (path.name, field)
                else:
                    assert stored == value, (path.name, field)


def test_corrupt_avro_rejected_whole_others_load(sample_rows_and_alerts, tmp_path):
    _, alerts = sample_rows_and_alerts
    payloads = [avro_codec.encode(a, "alert", "v0_9_1") for a in alerts["v0_9_1"][:20]]
    good = tmp_path / "good.avro"
    good.write_bytes(payloads[0])
    truncated = tmp_path / "truncated.avro"
    truncated.write_bytes(payloads[1][: len(payloads[1]) // 2])
    # A tarball whose last member is garbage: nothing of it may be stored.
    archive = tmp_path / "night.tar.gz"
    members = {f"a{i}.avro.gz": gzip.compress(p) for i, p in enumerate(payloads[2:])}
    members["zz_bad.avro.gz"] = gzip.compress(b"\x02\x04 definitely not an alert")
    _tar(archive, members)
    # A good tarball cut short (an interrupted download).
    cut = tmp_path / "cut.tar.gz"
    _tar(cut, {f"b{i}.avro.gz": gzip.compress(p) for i, p in enumerate(payloads[2:])})
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    report = load_alert_files(paths=[good, truncated, archive, cut])
    failed = dict(report.files_failed)
    assert set(failed) == {str(truncated), str(archive), str(cut)}
    assert "truncated.avro" in failed[str(truncated)]
    assert "zz_bad.avro.gz" in failed[str(archive)]
    assert "cut.tar.gz" in failed[str(cut)]
    assert report.files_loaded == [str(good)]
    assert row_counts(["elasticc_diaalert"]) == {"elasticc_diaalert": 1}
    assert set(_rows("elasticc_diaalert")) == {alerts["v0_9_1"][0]["alertId"]}


def test_wrong_schema_version_is_rejected(sample_rows_and_alerts, tmp_path):
    _, alerts = sample_rows_and_alerts
    path = tmp_path / "v0_9.avro"
    path.write_bytes(avro_codec.encode(alerts["v0_9"][5], "alert", "v0_9"))
    report = load_alert_files(paths=[path], schema_version="v0_9_1")
    assert len(report.files_failed) == 1
    assert "v0_9.avro" in report.files_failed[0][1]
    assert row_counts(["elasticc_diaalert"]) == {"elasticc_diaalert": 0}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_command_exit_status_and_messages(shared_dir, tmp_path, subprocess_env):
    sample = shared_dir / "elasticc" / "sample" / "alerts"
    bad = tmp_path / "broken.avro.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    command = ("load_elasticc_alerts", "--no-progress")
    ok = run_manage(subprocess_env, *command, *map(str, sorted(sample.glob("*.schemaless.avro"))))
    assert ok.returncode == 0, ok.stderr
    assert "3 alerts" in ok.stdout
    assert "rows/s" in ok.stdout
    failed = run_manage(subprocess_env, *command, str(bad))
    assert failed.returncode != 0
    assert "broken.avro.gz" in failed.stderr
    assert "Traceback" not in failed.stderr


def _container(records: list[dict], schema: dict, codec: str = "null") -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, schema, records, codec=codec)
    return out.getvalue()


def test_a_broken_or_foreign_container_is_named_and_the_run_goes_on(sample_rows_and_alerts, tmp_path):
    _, alerts = sample_rows_and_alerts
    good = tmp_path / "z_good.avro"
    good.write_bytes(avro_codec.encode(alerts["v0_9_1"][0], "alert", "v0_9_1"))
    # A deflate block with a corrupt byte in its middle.
    schema = _inline(avro_codec.parsed_schema("alert", "v0_9_1"), dict(avro_codec._named_schemas("v0_9_1")), set())
    deflated = bytearray(_container(alerts["v0_9_1"][1:4], schema, codec="deflate"))
    sync = bytes(deflated[-16:])
    at = deflated.index(sync) + 16  # the first block: record count, byte count, deflate data
    for _ in range(2):
        while deflated[at] & 0x80:
            at += 1
        at += 1
    deflated[at] = 0xFF  # deflate block type 3 is reserved: zlib.error "invalid block type"
    corrupt = tmp_path / "a_corrupt.avro"
    corrupt.write_bytes(bytes(deflated))
    # A valid container of something else, with fields named like ours but of other types.
    foreign_schema = {
        "type": "record",
        "name": "alert",
        "fields": [
            {"name": "alertId", "type": "string"},
            {"name": "diaSource", "type": {"type": "map", "values": "string"}},
        ],
    }
    foreign = tmp_path / "b_foreign.avro"
    foreign.write_bytes(
        _container([{"alertId": "7", "diaSource": {"diaSourceId": "8", "diaObjectId": "9"}}], foreign_schema)
    )
    report = load_alert_files(paths=[tmp_path])
    failed = dict(report.files_failed)
    assert set(failed) == {str(corrupt), str(foreign)}
    assert "a_corrupt.avro" in failed[str(corrupt)]
    assert "b_foreign.avro" in failed[str(foreign)]
    assert report.files_loaded == [str(good)]
    assert set(_rows("elasticc_diaalert")) == {alerts["v0_9_1"][0]["alertId"]}


def test_a_gzip_bomb_is_refused_without_expanding_it(tmp_path):
    bomb = tmp_path / "bomb.avro.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        chunk = b"\x00" * (1 << 20)
        for _ in range(200):  # 200 MB of zeros in about 200 KB
            out.write(chunk)
    assert bomb.stat().st_size < 400_000
    tracemalloc.start()
    try:
        report = load_alert_files(paths=[bomb], max_alert_bytes=8 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ((path, why),) = report.files_failed
    assert path == str(bomb)
    assert "more than 8388608 bytes" in why
    assert peak < 40 << 20, f"{peak / 2**20:.0f} MiB in memory"


def test_a_deflate_bomb_in_a_container_is_refused_without_expanding_it(sample_rows_and_alerts, tmp_path):
    """Regression: fastavro decompresses a container's block whole, so a
    400 KB container of one deflate block grew the loader by 800 MB; the
    per-alert cap applied to files and tar members only."""
    _, alerts = sample_rows_and_alerts
    schema = _inline(avro_codec.parsed_schema("alert", "v0_9_1"), dict(avro_codec._named_schemas("v0_9_1")), set())
    header = _container([], schema, codec="deflate")  # no records: the header alone, ending with the sync marker
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1 << 20)
    data = b"".join(deflate.compress(chunk) for _ in range(200)) + deflate.flush()  # 200 MB of zeros
    assert len(data) < 400_000
    bomb = tmp_path / "a_bomb.avro"
    bomb.write_bytes(header + avro_long(2) + avro_long(len(data)) + data + header[-16:])
    good = tmp_path / "b_good.avro"
    good.write_bytes(_container(alerts["v0_9_1"][:3], schema, codec="deflate"))
    tracemalloc.start()
    try:
        report = load_alert_files(paths=[tmp_path], max_alert_bytes=8 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60 << 20, f"{peak / 2**20:.0f} MiB in memory"
    ((path, why),) = report.files_failed
    assert path == str(bomb)
    assert why.startswith("a_bomb.avro: ")
    assert "block 1: 2 records expand to more than 16777216 bytes" in why
    assert report.files_loaded == [str(good)]
    assert len(_rows("elasticc_diaalert")) == 3
    # The absolute cap of a block holds whatever its record count says.
    report = load_alert_files(paths=[bomb], max_alert_bytes=8 << 20, max_block_bytes=1 << 20)
    assert "expand to more than 1048576 bytes" in report.files_failed[0][1]
