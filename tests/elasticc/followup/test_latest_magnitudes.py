"""spectrawanted's `latest` magnitudes, kept per object when a spectrum is
asked for and when alerts are sent: the answer is the same with or without
them, a kept row counts only at the object's horizon now, and loading forced
photometry forgets it. Sample with alerts through MJD 60578 sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from rest_framework.test import APIClient

from elasticc.ingest.bulk_copy import arrow_table, stage_and_insert
from elasticc.models import LatestMagnitudes
from tests.builders import mark_sent
from tests.responses import body

MJD_NOW = 60578.0
EVERYTHING = {"mjd_now": MJD_NOW, "detected_since_mjd": 0}


@pytest.fixture
def user_client(sent_sample, plain_user, client_for) -> APIClient:
    return client_for(plain_user)


def spectrawanted(client: APIClient, **extra) -> bytes:
    res = client.post("/elasticc2/spectrawanted", {**EVERYTHING, **extra}, format="json")
    assert res.status_code == 200, res.content
    return body(res)


def known_ids(client: APIClient) -> list[int]:
    res = client.post("/elasticc2/gethottransients", EVERYTHING, format="json")
    return [o["objectid"] for o in json.loads(body(res))["diaobject"]]


def ask(client: APIClient, ids: list[int]) -> None:
    res = client.post(
        "/elasticc2/askforspectrum", {"requester": "R", "objectids": ids, "priorities": [3] * len(ids)}, format="json"
    )
    assert res.status_code == 200, res.content


def test_the_answer_is_the_same_with_kept_magnitudes_or_without(user_client):
    ids = known_ids(user_client)
    ask(user_client, ids)
    assert LatestMagnitudes.objects.count() == len(ids) == 102
    kept = spectrawanted(user_client)
    kept_r = spectrawanted(user_client, lim_mag=23, lim_mag_band="r")
    assert any(w["latest"] for w in json.loads(kept)["wantedspectra"])
    assert 0 < len(json.loads(kept_r)["wantedspectra"]) < len(json.loads(kept)["wantedspectra"])

    LatestMagnitudes.objects.all().delete()
    assert spectrawanted(user_client) == kept
    assert spectrawanted(user_client, lim_mag=23, lim_mag_band="r") == kept_r


def test_a_kept_row_counts_only_at_the_objects_horizon_now(user_client):
    oid = known_ids(user_client)[0]
    ask(user_client, [oid])
    row = LatestMagnitudes.objects.get(pk=oid)
    computed = json.loads(spectrawanted(user_client))["wantedspectra"][0]["latest"]
    assert computed == json.loads(row.latest)

    LatestMagnitudes.objects.filter(pk=oid).update(latest='{"r" : {"mjd" : 1, "mag" : 5}}')
    assert json.loads(spectrawanted(user_client))["wantedspectra"][0]["latest"] == {"r": {"mjd": 1, "mag": 5}}
    LatestMagnitudes.objects.filter(pk=oid).update(horizon=row.horizon - 1)
    assert json.loads(spectrawanted(user_client))["wantedspectra"][0]["latest"] == computed


def test_sending_alerts_keeps_the_magnitudes_of_wanted_objects_current(user_client):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.alertid, a.diaobjectid, s.midpointtai FROM elasticc_diaalert a "
            "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "WHERE a.alertsenttimestamp IS NULL AND a.diaobjectid = ANY(%s) ORDER BY s.midpointtai",
            [known_ids(user_client)],
        )
        unsent = cursor.fetchall()
    (wanted_alert, wanted, later), (other_alert, other, _) = unsent[0], next(u for u in unsent if u[1] != unsent[0][1])
    ask(user_client, [wanted])
    before = LatestMagnitudes.objects.get(pk=wanted).horizon
    assert before < later

    assert mark_sent(dict.fromkeys([wanted_alert, other_alert], datetime.now(UTC))) == 2
    assert LatestMagnitudes.objects.get(pk=wanted).horizon == later
    assert not LatestMagnitudes.objects.filter(pk=other).exists()  # nobody wants it


def test_loading_forced_photometry_forgets_the_objects_kept_magnitudes(user_client):
    first, second = known_ids(user_client)[:2]
    ask(user_client, [first, second])
    horizon = LatestMagnitudes.objects.get(pk=first).horizon
    table = arrow_table(
        "elasticc_diaforcedsource",
        {
            "diaforcedsourceid": [10**15 + 1],
            "diaobjectid": [first],
            "midpointtai": [horizon],
            "filtername": ["r"],
            "psflux": [50_000.0],
            "psfluxerr": [10.0],
        },
    )
    with connection.cursor() as cursor:
        assert stage_and_insert(cursor, {"elasticc_diaforcedsource": table}) == {"elasticc_diaforcedsource": 1}
    assert set(LatestMagnitudes.objects.values_list("pk", flat=True)) == {second}
    latest = {w["oid"]: w["latest"] for w in json.loads(spectrawanted(user_client))["wantedspectra"]}
    assert latest[first]["r"]["mjd"] == horizon
