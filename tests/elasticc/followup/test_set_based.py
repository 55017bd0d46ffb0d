"""The follow-up answers are set-based: a request costs the same statements
for one object as for all of them (bench/followup.py times them at 10^5
objects and 10^7 forced points). Sample with alerts through 60578 sent."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.responses import json_body

MJD_NOW = 60578.0


@pytest.fixture
def user_client(sent_sample, plain_user, client_for) -> APIClient:
    client = client_for(plain_user)
    client.post("/elasticc2/gethottransients", {"mjd_now": MJD_NOW}, format="json")  # the session's own queries
    return client


def statements(client: APIClient, path: str, body: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        res = client.post(f"/elasticc2/{path}", body, format="json")
    assert res.status_code == 200, res.content
    return len(queries.captured_queries), json_body(res)


def test_light_curves_cost_the_same_statements_for_one_object_or_all(user_client):
    few, some = statements(user_client, "gethottransients", {"mjd_now": MJD_NOW, "detected_in_last_days": 10})
    many, every = statements(user_client, "gethottransients", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})
    assert 0 < len(some["diaobject"]) < len(every["diaobject"]) == 102
    assert few == many

    ids = [o["objectid"] for o in every["diaobject"]]
    one, _ = statements(user_client, "ltcv", {"objectid": ids[0], "mjd_now": MJD_NOW})
    all_of_them, answer = statements(user_client, "ltcv", {"objectids": ids, "mjd_now": MJD_NOW})
    assert answer["diaobject"] == every["diaobject"]
    assert one == all_of_them


def test_spectrawanted_costs_the_same_statements_for_one_wanted_spectrum_or_many(user_client):
    response = user_client.post(
        "/elasticc2/gethottransients", {"mjd_now": MJD_NOW, "detected_since_mjd": 0}, format="json"
    )
    ids = [o["objectid"] for o in json_body(response)["diaobject"]]
    body = {"mjd_now": MJD_NOW, "detected_since_mjd": 0}
    user_client.post("/elasticc2/askforspectrum", {"requester": "A", "objectids": ids[:1], "priorities": [3]}, "json")
    one, answer = statements(user_client, "spectrawanted", body)
    assert len(answer["wantedspectra"]) == 1
    user_client.post(
        "/elasticc2/askforspectrum", {"requester": "B", "objectids": ids, "priorities": [2] * len(ids)}, "json"
    )
    many, answer = statements(user_client, "spectrawanted", body)
    assert len(answer["wantedspectra"]) == 1 + len(ids)
    assert one == many
