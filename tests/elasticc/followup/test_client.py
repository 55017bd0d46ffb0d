"""The follow-up API from the Python client against a live server: the
original tom_client.py pattern (post(path, json=...), no trailing slash),
the typed helpers (format 2 as a DataFrame) and the example script."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas
import pytest
from django.db import connection

from tests.builders import PASSWORD, load_sample, mark_sent

ROOT = Path(__file__).resolve().parents[3]
MJD_NOW = 60578.0
pytestmark = pytest.mark.slow


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tom_client = _module("tom_client", ROOT / "db" / "client" / "tom_client.py")
example = _module("followup_cycle", ROOT / "examples" / "followup_cycle.py")


@pytest.fixture
def sample(shared_dir, transactional_db):
    load_sample(shared_dir, unsent=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.alertid FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "WHERE s.midpointtai <= %s",
            [MJD_NOW],
        )
        mark_sent(dict.fromkeys((row[0] for row in cursor.fetchall()), datetime(2024, 9, 1, tzinfo=UTC)))


def test_original_calling_pattern_and_typed_helpers(live_server, sample, plain_user):
    tom = tom_client.TomClient(live_server.url, "desc_user", PASSWORD)
    res = tom.post("elasticc2/gethottransients", json={"detected_since_mjd": 0, "mjd_now": MJD_NOW})
    assert res.status_code == 200
    assert len(res.json()["diaobject"]) == 102
    res = tom.post("elasticc2/ltcv", json={"objectid": "nope"})
    assert res.status_code == 400
    assert "objectid" in res.json()["error"]

    frame = tom.hot_transients(detected_since_mjd=0, mjd_now=MJD_NOW, return_format=2, include_hostinfo=True)
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 102
    assert isinstance(frame["mjd"].iloc[0], list)
    assert "hostgal_snsep" in frame.columns
    ids = [int(i) for i in frame["objectid"][:2]]
    assert [o["objectid"] for o in tom.ltcv(ids, mjd_now=MJD_NOW)] == ids
    assert tom.ask_for_spectrum("R", ids, [2, 3]) == 2
    assert {w["oid"] for w in tom.spectra_wanted(detected_since_mjd=0, mjd_now=MJD_NOW)} == set(ids)
    assert tom.plan_spectrum(ids[0], "G", "2024-09-02")["facility"] == "G"
    assert tom.remove_spectrum_plan(ids[0], "G") == 1
    tom.report_spectrum(ids[1], "G", mjd=MJD_NOW, classid=300)
    assert tom.known_spectra(objectid=ids[1]) == [
        {"objectid": ids[1], "facility": "G", "mjd": MJD_NOW, "z": None, "classid": 300}
    ]
    assert tom.make_target(ids[0])["created"] is True
    with pytest.raises(tom_client.TomError, match="999999999"):
        tom.ltcv(999_999_999)


def test_example_script(live_server, sample, plain_user):
    tom = tom_client.TomClient(live_server.url, "desc_user", PASSWORD)
    seen = example.followup_round(tom, mjd_now=MJD_NOW)
    assert seen["hot"] > 0
    assert len(seen["asked"]) == 3
    assert seen["wanted"] == 3
    assert seen["still_wanted_after_plan"] is False
    assert seen["redshift"] == pytest.approx(0.05)
    assert seen["sncode"] == 2222
    assert [s["objectid"] for s in seen["known_spectra"]] == [seen["observed"]]
