"""Our Avro schemas are wire-compatible with the original ELAsTiCC schemas.

Schemaless Avro carries no schema, so "compatible" means: the same record
encodes to the same bytes under both, and each side decodes the other's bytes
to the same record.
"""

from __future__ import annotations

import datetime
import io
import json
import random
from pathlib import Path

import fastavro
import fastavro.schema
import pytest

from elasticc.avro import codec as avro_codec
from elasticc.avro.columns import DIAOBJECT_AVRO_FIELDS, avro_fields
from elasticc.avro.versions import SCHEMA_VERSIONS

UTC = datetime.UTC


def original_schema(shared_dir: Path, name: str, version: str):
    # fastavro resolves the referenced named types from sibling files named
    # <namespace>.<name>.avsc, which is how the originals are laid out.
    return fastavro.schema.load_schema(
        shared_dir / "elasticc" / "schemas" / version / f"elasticc.{version}.{name}.avsc"
    )


def f32(x: float) -> float:
    """A value exactly representable as Avro float, so round trips compare equal."""
    return fastavro.schemaless_reader(io.BytesIO(_float_bytes(x)), "float", None)


def _float_bytes(x: float) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "float", x)
    return buf.getvalue()


def source(rng: random.Random, version: str, object_id: int, i: int) -> dict:
    rec = {
        "diaSourceId": object_id * 1000 + i,
        "ccdVisitId": rng.randrange(10**9),
        "diaObjectId": object_id,
        "parentDiaSourceId": None,
        "midPointTai": 60000 + rng.random() * 100,
        "filterName": rng.choice("ugrizY"),
        "ra": rng.random() * 360,
        "decl": rng.random() * 180 - 90,
        "psFlux": f32(rng.gauss(1000, 300)),
        "psFluxErr": f32(rng.random() * 100),
        "snr": f32(rng.random() * 50),
        "nobs": f32(3.0),
    }
    return {k: rec[k] for k in avro_fields(tuple(rec), version)}


def forced(rng: random.Random, version: str, object_id: int, i: int) -> dict:
    rec = {
        "diaForcedSourceId": object_id * 1000 + i,
        "ccdVisitId": rng.randrange(10**9),
        "diaObjectId": object_id,
        "midPointTai": 60000 + rng.random() * 100,
        "filterName": rng.choice("ugrizY"),
        "psFlux": f32(rng.gauss(0, 300)),
        "psFluxErr": f32(rng.random() * 100),
        "totFlux": f32(rng.gauss(0, 300)),
        "totFluxErr": f32(rng.random() * 100),
    }
    return {k: rec[k] for k in avro_fields(tuple(rec), version)}


def synthetic_alert(version: str, seed: int) -> dict:
    rng = random.Random(seed)
    object_id = rng.randrange(1, 10**7)
    obj = {
        name: (f32(rng.random()) if rng.random() < 0.8 else None)
        for name in avro_fields(DIAOBJECT_AVRO_FIELDS, version)
    }
    obj.update(diaObjectId=object_id, simVersion="2023-04-01", ra=rng.random() * 360, decl=rng.random() * 90)
    alert = {
        "alertId": object_id * 1000 + 99,
        "diaSource": source(rng, version, object_id, 99),
        "prvDiaSources": [source(rng, version, object_id, i) for i in range(rng.randrange(5))],
        "prvDiaForcedSources": [forced(rng, version, object_id, i) for i in range(rng.randrange(5))],
        "diaObject": obj,
    }
    if version == "v0_9":
        alert["prvDiaNondetectionLimits"] = [
            {"ccdVisitId": 7, "midPointTai": 60001.5, "filterName": "g", "diaNoise": f32(12.5)}
        ]
        alert["cutoutDifference"] = None
        alert["cutoutTemplate"] = b"\x00\x01template"
    return alert


def broker_message(version: str) -> dict:
    msg = {
        "alertId": 123456789012,
        "diaSourceId": 123456789012,
        "elasticcPublishTimestamp": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "brokerIngestTimestamp": datetime.datetime(2026, 1, 2, 3, 4, 6, 1000, tzinfo=UTC),
        "brokerName": "FakeBroker",
        "brokerVersion": "v1.0",
    }
    if version == "v0_9":
        msg["classifications"] = [
            {"classifierName": "NugentClassifier", "classifierParams": "100%", "classId": 111, "probability": 1.0},
            {"classifierName": "RandomSNType", "classifierParams": "Perfect", "classId": 112, "probability": 0.25},
        ]
    else:
        msg.update(classifierName="RandomSNType", classifierParams="Perfect")
        msg["classifications"] = [{"classId": 111, "probability": 0.75}, {"classId": 131, "probability": 0.25}]
    return msg


def records(shared_dir: Path, version: str) -> list[tuple[str, dict]]:
    out = [("alert", synthetic_alert(version, seed)) for seed in range(5)]
    out.append(("brokerClassification", broker_message(version)))
    alert = synthetic_alert(version, 99)
    out += [("diaSource", alert["diaSource"]), ("diaObject", alert["diaObject"])]
    out += [("diaForcedSource", fs) for fs in alert["prvDiaForcedSources"][:1]]
    out.append(("diaNondetectionLimit", {"ccdVisitId": 1, "midPointTai": 60000.25, "filterName": "r", "diaNoise": 2.5}))
    if version == "v0_9_1":
        for path in sorted((shared_dir / "elasticc" / "sample" / "alerts").glob("*.json")):
            out.append(("alert", json.loads(path.read_text())))
    return out


@pytest.mark.parametrize("version", ["v0_9", "v0_9_1"])
def test_same_bytes_both_ways(shared_dir, version):
    for name, record in records(shared_dir, version):
        theirs = original_schema(shared_dir, name, version)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, theirs, record)
        their_bytes = buf.getvalue()
        our_bytes = avro_codec.encode(record, name, version)
        assert our_bytes == their_bytes, name
        ours_read = avro_codec.decode(their_bytes, name, version)
        theirs_read = fastavro.schemaless_reader(io.BytesIO(our_bytes), theirs, None)
        assert ours_read == theirs_read, name
        assert avro_codec.encode(ours_read, name, version) == our_bytes, name


def test_record_fields_match_originals(shared_dir):
    for version in SCHEMA_VERSIONS:
        for name in avro_codec.SCHEMA_NAMES:
            ours = avro_codec.parsed_schema(name, version)
            theirs = original_schema(shared_dir, name, version)
            assert [f["name"] for f in ours["fields"]] == [f["name"] for f in theirs["fields"]], (version, name)


def test_golden_alert_bytes(shared_dir):
    for path in sorted((shared_dir / "elasticc" / "sample" / "alerts").glob("*.json")):
        record = json.loads(path.read_text())
        golden = path.with_name(path.name.removesuffix(".json") + ".schemaless.avro").read_bytes()
        assert avro_codec.encode(record, "alert", "v0_9_1") == golden
        assert avro_codec.encode_many([record, record], "alert", "v0_9_1") == [golden, golden]
        decoded = avro_codec.decode(golden, "alert", "v0_9_1")
        assert decoded["alertId"] == record["alertId"]
        assert [s["diaSourceId"] for s in decoded["prvDiaSources"]] == [
            s["diaSourceId"] for s in record["prvDiaSources"]
        ]


def test_decode_rejects_other_version_and_garbage():
    msg = broker_message("v0_9_1")
    data = avro_codec.encode(msg, "brokerClassification", "v0_9_1")
    assert avro_codec.decode(data, "brokerClassification", "v0_9_1")["classifierName"] == "RandomSNType"
    with pytest.raises((ValueError, EOFError, IndexError)):
        avro_codec.decode(data[:-3], "brokerClassification", "v0_9_1")
    with pytest.raises((ValueError, EOFError)):
        avro_codec.decode(data + b"\x00\x00", "brokerClassification", "v0_9_1")


def test_unknown_schema():
    with pytest.raises(avro_codec.UnknownSchemaError):
        avro_codec.parsed_schema("alert", "v1")
    with pytest.raises(avro_codec.UnknownSchemaError):
        avro_codec.parsed_schema("nonsense", "v0_9")
