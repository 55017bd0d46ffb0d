"""GET /elasticc/diaalert/ returns the alerts brokers received: the golden
vectors of ../shared/elasticc/sample/alerts/ after loading the sample.

The sample is loaded two ways, from the loader's oracle CSVs (the rows the
golden alerts were built from) and with the SNANA loader from the FITS files;
either way the alerts must match exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elasticc.ingest.snana import load_snana_dirs
from elasticc.models import DiaAlert, DiaObjectTruth, DiaTruth
from tests.builders import BUILDER_STATEMENTS, load_sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample(shared_dir: Path, sample_snana_dir: Path) -> list[dict]:
    """The sample loaded by the SNANA loader; returns the golden alerts."""
    report = load_snana_dirs(dirs=sorted(p for p in sample_snana_dir.iterdir() if p.is_dir()))
    assert not report.files_failed, report.files_failed
    return _golden(sample_snana_dir)


def _golden(sample_snana_dir: Path) -> list[dict]:
    alerts_dir = sample_snana_dir.parent / "alerts"
    return [json.loads(path.read_text()) for path in sorted(alerts_dir.glob("*.json"))]


def assert_same(actual, expected, *, where: str = "alert") -> None:
    """Deep equality that names the first differing place."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], where=f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, where=f"{where}[{i}]")
    else:
        assert actual == expected, where


def _check_details(client, golden_alerts: list[dict]) -> None:
    assert len(golden_alerts) == 3
    for golden in golden_alerts:
        response = client.get(f"/elasticc/diaalert/{golden['alertId']}/")
        assert response.status_code == 200
        alert = response.json()
        sent = DiaAlert.objects.get(alertid=golden["alertId"]).alertsenttimestamp
        assert alert.pop("alertSentTimestamp") == (None if sent is None else sent.isoformat().replace("+00:00", "Z"))
        assert_same(alert, golden)


def test_detail_equals_golden_alerts_exactly_from_the_oracle_rows(shared_dir, sample_snana_dir, client_for, plain_user):
    load_sample(shared_dir)
    _check_details(client_for(plain_user), _golden(sample_snana_dir))


def test_detail_equals_golden_alerts_after_the_snana_loader(sample, client_for, plain_user):
    _check_details(client_for(plain_user), sample)


def test_list_page_holds_the_same_alerts(sample, client_for, plain_user, django_assert_max_num_queries):
    client = client_for(plain_user)
    ids = ",".join(str(g["alertId"]) for g in sample)
    client.get("/elasticc/classids/")
    with django_assert_max_num_queries(4 + BUILDER_STATEMENTS):
        body = client.get(f"/elasticc/diaalert/?alertId={ids}").json()
    assert body["count"] == 3
    assert body["count_is_estimate"] is False
    by_id = {a["alertId"]: {k: v for k, v in a.items() if k != "alertSentTimestamp"} for a in body["results"]}
    assert_same(by_id, {g["alertId"]: g for g in sample})


def test_full_pages_cost_a_fixed_number_of_queries(sample, client_for, plain_user, django_assert_max_num_queries):
    client = client_for(plain_user)
    client.get("/elasticc/classids/")
    total = DiaAlert.objects.count()
    assert total == 1862
    seen = 0
    url = "/elasticc/diaalert/?limit=1000"
    while url:
        with django_assert_max_num_queries(4 + BUILDER_STATEMENTS):
            body = client.get(url).json()
        seen += len(body["results"])
        url = body["next"]
    assert seen == total


def test_truth_of_the_sample_for_admins(sample, client_for, admin_user, plain_user):
    oid = sample[0]["diaObject"]["diaObjectId"]
    assert client_for(plain_user).get(f"/elasticc/diaobjecttruth/{oid}/").status_code == 403
    truth = client_for(admin_user).get(f"/elasticc/diaobjecttruth/{oid}/").json()
    assert truth["gentype"] == DiaObjectTruth.objects.get(diaobjectid=oid).gentype
    epochs = client_for(admin_user).get(f"/elasticc/diatruth/?diaObjectId={oid}&limit=1000").json()
    assert epochs["count"] == DiaTruth.objects.filter(diaobjectid=oid).count()
    assert {e["diaObjectId"] for e in epochs["results"]} == {oid}
