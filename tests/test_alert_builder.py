"""Alert construction: golden vectors, the history rules, constant query count,
and the row encoder against fastavro."""

from __future__ import annotations

import csv
import json
import math
import random
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from elasticc import avro_codec, avro_rows
from elasticc.alert_builder import build_alert_payloads, build_alerts
from elasticc.columns import DIAOBJECT_AVRO_FIELDS, DIASOURCE_AVRO_FIELDS, avro_fields
from tests.sample_data import expected_dir, load_sample


@pytest.fixture(scope="module")
def sample(shared_dir, django_db_setup, django_db_blocker):
    """The sample rows, committed once for the module, removed afterwards."""
    with django_db_blocker.unblock():
        load_sample(shared_dir)
        yield shared_dir
        with connection.cursor() as cursor:
            for table in ("elasticc_diaalert", "elasticc_diaforcedsource", "elasticc_diasource", "elasticc_diaobject"):
                cursor.execute(f"DELETE FROM {table}")


def golden(shared_dir: Path) -> list[tuple[dict, bytes]]:
    out = []
    for path in sorted((shared_dir / "elasticc" / "sample" / "alerts").glob("*.json")):
        avro = path.with_name(path.name.removesuffix(".json") + ".schemaless.avro")
        out.append((json.loads(path.read_text()), avro.read_bytes()))
    assert len(out) == 3
    return out


def all_alert_ids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT alertid FROM elasticc_diaalert ORDER BY alertid")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_golden_vectors(sample):
    for expected, avro in golden(sample):
        (alert,) = build_alerts(alert_ids=[expected["alertId"]])
        assert alert == expected
        assert avro_codec.encode(alert, "alert", "v0_9_1") == avro
        assert build_alert_payloads(alert_ids=[expected["alertId"]]) == [(expected["alertId"], avro)]


@pytest.mark.django_db
def test_golden_vectors_inside_a_big_batch(sample):
    """A batch holding other alerts of the same objects gives the same alerts."""
    ids = all_alert_ids()
    by_id = dict(zip(ids, build_alerts(alert_ids=ids), strict=True))
    payloads = dict(build_alert_payloads(alert_ids=ids))
    for expected, avro in golden(sample):
        assert by_id[expected["alertId"]] == expected
        assert payloads[expected["alertId"]] == avro


def _csv_rows(shared_dir: Path, name: str) -> list[dict]:
    with (expected_dir(shared_dir) / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.django_db
def test_history_rules_on_every_alert(sample):
    """Each alert's histories, recomputed naively from the expected CSVs."""
    sources = defaultdict(list)
    for row in _csv_rows(sample, "ppdbdiasource.csv"):
        sources[int(row["diaobject_id"])].append((float(row["midpointtai"]), int(row["diasource_id"])))
    forced = defaultdict(list)
    for row in _csv_rows(sample, "ppdbdiaforcedsource.csv"):
        forced[int(row["diaobject_id"])].append((float(row["midpointtai"]), int(row["diaforcedsource_id"])))
    source_t = {sid: t for rows in sources.values() for t, sid in rows}
    alerts = _csv_rows(sample, "ppdbalert.csv")
    ids = [int(a["alert_id"]) for a in alerts]
    built = {a["alertId"]: a for a in build_alerts(alert_ids=ids, history_days=100)}
    assert len(built) == len(ids) == 1862
    with_forced = 0
    for a in alerts:
        alert = built[int(a["alert_id"])]
        oid, t = int(a["diaobject_id"]), source_t[int(a["diasource_id"])]
        first = min(x for x, _ in sources[oid])
        prv = sorted((x, i) for x, i in sources[oid] if t - 100 <= x < t)
        assert [s["diaSourceId"] for s in alert["prvDiaSources"]] == [i for _, i in prv]
        if t - first <= 0.5:
            expected_forced = []
        else:
            expected_forced = sorted((x, i) for x, i in forced[oid] if max(first - 30, t - 100) <= x < t)
        assert [f["diaForcedSourceId"] for f in alert["prvDiaForcedSources"]] == [i for _, i in expected_forced]
        with_forced += bool(expected_forced)
        assert alert["diaObject"]["diaObjectId"] == alert["diaSource"]["diaObjectId"] == oid
    assert 0 < with_forced < len(ids)


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["v0_9_1", "v0_9"])
def test_payloads_equal_fastavro_encoding(sample, version):
    ids = all_alert_ids()
    alerts = build_alerts(alert_ids=ids, schema_version=version)
    payloads = build_alert_payloads(alert_ids=ids, schema_version=version)
    assert [i for i, _ in payloads] == ids
    assert [p for _, p in payloads] == avro_codec.encode_many(alerts, "alert", version)
    if version == "v0_9":
        alert = alerts[0]
        assert alert["prvDiaNondetectionLimits"] is None
        assert alert["cutoutTemplate"] is None
        assert alert["diaSource"]["ccdVisitId"] == -1  # not in the ELAsTiCC2 tables
        decoded = avro_codec.decode(payloads[0][1], "alert", "v0_9")
        assert decoded["diaObject"]["hostgal_zphot_p50"] is None


@pytest.mark.django_db
def test_query_count_does_not_grow_with_batch(sample):
    ids = all_alert_ids()
    counts = []
    for batch in (ids[:1], ids[:50], ids):
        for build in (build_alerts, build_alert_payloads):
            with CaptureQueriesContext(connection) as queries:
                build(alert_ids=batch)
            counts.append(sum(1 for q in queries if q["sql"].lstrip().upper().startswith("SELECT")))
    # alerts, objects, sources, forced sources (skipped when no alert needs them)
    assert counts[2:] == [4, 4, 4, 4]
    assert counts[0] <= 4


@pytest.mark.django_db
def test_order_missing_ids_and_bad_version(sample):
    ids = all_alert_ids()[:20][::-1]
    got = build_alerts(alert_ids=[*ids[:10], 999_999_999_999, *ids[10:]])
    assert [a["alertId"] for a in got] == ids
    assert build_alerts(alert_ids=[]) == []
    with pytest.raises(ValueError, match="unknown schema version"):
        build_alerts(alert_ids=ids, schema_version="v2")


def _f32(x: float) -> float:
    return avro_codec.decode(
        avro_codec.encode(
            {"ccdVisitId": 1, "midPointTai": 0.0, "filterName": "g", "diaNoise": x}, "diaNondetectionLimit", "v0_9"
        ),
        "diaNondetectionLimit",
        "v0_9",
    )["diaNoise"]


@pytest.mark.parametrize("version", ["v0_9_1", "v0_9"])
def test_row_encoder_matches_fastavro_with_nulls(version):
    rng = random.Random(7)
    obj_fields = avro_fields(DIAOBJECT_AVRO_FIELDS, version)
    src_fields = avro_fields(DIASOURCE_AVRO_FIELDS, version)
    for trial in range(200):
        obj = {name: (None if rng.random() < 0.3 else _f32(rng.uniform(-1e4, 1e4))) for name in obj_fields}
        obj.update(
            diaObjectId=rng.choice([0, 1, -5, 2**62, rng.randrange(10**12)]), ra=rng.random(), decl=-rng.random()
        )
        obj["simVersion"] = None if trial % 2 else "é-2023"
        if trial == 0:
            obj.update({name: math.nan for name in obj_fields[4:]})
        src = {
            "diaSourceId": rng.randrange(-(2**63), 2**63),
            "ccdVisitId": rng.randrange(10**6),
            "diaObjectId": None if trial % 3 == 0 else rng.randrange(10**9),
            "parentDiaSourceId": None if trial % 2 else -rng.randrange(10**9),
            "midPointTai": rng.uniform(59000, 62000),
            "filterName": rng.choice(["u", "g", "Y", "a-long-filter-name-" * 3]),
            "ra": rng.random(),
            "decl": rng.random(),
            "psFlux": _f32(rng.gauss(0, 1e3)),
            "psFluxErr": _f32(rng.random()),
            "snr": float("inf") if trial == 1 else _f32(rng.random()),
            "nobs": None if trial % 4 else 3.0,
        }
        src = {k: src[k] for k in src_fields}
        for name, record in (("diaObject", obj), ("diaSource", src)):
            row = tuple(record[k] for k in avro_rows.field_names(name, version))
            expected = avro_codec.encode(record, name, version)
            assert avro_rows.row_encoder(name, version)(row) == expected, (name, trial)


def test_row_encoder_rejects_unsupported_types():
    with pytest.raises(ValueError, match="cannot encode"):
        avro_rows.compile_row_encoder([{"type": "array", "items": "long"}])
    with pytest.raises(ValueError, match="cannot encode"):
        avro_rows.compile_row_encoder(["fixed"])
