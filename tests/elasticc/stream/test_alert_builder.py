"""Alert construction: golden vectors, the history rules, constant query count,
and the row encoder against fastavro."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from elasticc.avro import codec as avro_codec
from elasticc.stream.alert_builder import build_alert_payloads, build_alerts
from tests.builders import expected_dir, load_sample, wipe


@pytest.fixture(scope="module")
def sample(shared_dir, django_db_setup, django_db_blocker):
    """The sample rows, committed once for the module, removed afterwards."""
    with django_db_blocker.unblock():
        load_sample(shared_dir)
        yield shared_dir
        wipe(("elasticc_diaalert", "elasticc_diaforcedsource", "elasticc_diasource", "elasticc_diaobject"))


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
