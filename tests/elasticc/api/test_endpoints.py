"""REST endpoints: permissions, JSON shape, filters, counts, query budgets."""

from __future__ import annotations

import pytest

from elasticc.read import counts
from tests.builders import (
    BUILDER_STATEMENTS,
    N_OBJECTS,
    SOURCES_PER_OBJECT,
    add_objects,
    load_small_sim,
    object_id,
    source_id,
)

pytestmark = pytest.mark.django_db

# endpoint, one existing id, visible to plain logged-in users
ENDPOINTS = [
    ("diaobject", object_id(3), True),
    ("diasource", source_id(3, 1), True),
    ("diaforcedsource", object_id(3) * 1000 + 2, True),
    ("diaalert", source_id(3, 1), True),
    ("diatruth", source_id(3, 1), False),
    ("diaobjecttruth", object_id(3), False),
]


@pytest.fixture
def sim(db):
    return load_small_sim()


@pytest.mark.parametrize(("endpoint", "pk", "public"), ENDPOINTS)
def test_anonymous_gets_json_403(sim, api_client, endpoint, pk, public):
    for url in (f"/elasticc/{endpoint}/", f"/elasticc/{endpoint}/{pk}/"):
        response = api_client.get(url)
        assert response.status_code in (401, 403)
        assert response["Content-Type"].startswith("application/json")
        assert "error" in response.json()


@pytest.mark.parametrize(("endpoint", "pk", "public"), ENDPOINTS)
def test_plain_user_sees_simulation_not_truth(sim, client_for, plain_user, endpoint, pk, public):
    client = client_for(plain_user)
    for url in (f"/elasticc/{endpoint}/", f"/elasticc/{endpoint}/{pk}/"):
        response = client.get(url)
        if public:
            assert response.status_code == 200, response.content
        else:
            assert response.status_code == 403
            assert "elasticc_admin" in response.json()["error"]


@pytest.mark.parametrize(("endpoint", "pk", "public"), ENDPOINTS)
def test_admin_sees_everything_with_camelcase_keys(sim, client_for, admin_user, endpoint, pk, public):
    client = client_for(admin_user)
    listing = client.get(f"/elasticc/{endpoint}/")
    assert listing.status_code == 200
    body = listing.json()
    assert list(body) == ["count", "count_is_estimate", "next", "previous", "results"]
    assert body["count_is_estimate"] is False
    assert body["previous"] is None
    detail = client.get(f"/elasticc/{endpoint}/{pk}/").json()
    key = {
        "diaobject": "diaObjectId",
        "diasource": "diaSourceId",
        "diaforcedsource": "diaForcedSourceId",
        "diaalert": "alertId",
        "diatruth": "diaSourceId",
        "diaobjecttruth": "diaObjectId",
    }[endpoint]
    assert detail[key] == pk
    assert detail in body["results"]


@pytest.mark.parametrize(("endpoint", "pk", "public"), ENDPOINTS)
def test_unknown_id_is_json_404(sim, client_for, admin_user, endpoint, pk, public):
    response = client_for(admin_user).get(f"/elasticc/{endpoint}/999999999/")
    assert response.status_code == 404
    assert "error" in response.json()


def test_counts_are_exact_from_counters(sim, client_for, plain_user):
    client = client_for(plain_user)
    n_sources = N_OBJECTS * SOURCES_PER_OBJECT
    assert client.get("/elasticc/diaobject/").json()["count"] == N_OBJECTS
    assert client.get("/elasticc/diasource/").json()["count"] == n_sources
    assert client.get("/elasticc/diaforcedsource/").json()["count"] == N_OBJECTS * 5
    assert client.get("/elasticc/diaalert/?sent=true").json()["count"] == N_OBJECTS
    assert client.get("/elasticc/diaalert/?sent=false").json()["count"] == n_sources - N_OBJECTS


def test_diaobject_keys_follow_avro_names(sim, client_for, plain_user):
    obj = client_for(plain_user).get(f"/elasticc/diaobject/{object_id(2)}/").json()
    for key in ("diaObjectId", "simVersion", "ra", "decl", "mwebv", "mwebv_err", "hostgal_mag_Y", "hostgal2_zphot_p50"):
        assert key in obj
    assert obj["ra"] == 20.0
    assert obj["decl"] == -28.0
    src = client_for(plain_user).get(f"/elasticc/diasource/{source_id(2, 1)}/").json()
    assert src["diaObjectId"] == object_id(2)
    assert src["midPointTai"] == 60004.0
    for key in ("diaSourceId", "filterName", "psFlux", "psFluxErr", "snr"):
        assert key in src


def _ids(client, url: str, key: str) -> list[int]:
    body = client.get(url).json()
    assert "error" not in body, body
    return [row[key] for row in body["results"]]


def test_object_id_list_filter(sim, client_for, plain_user):
    client = client_for(plain_user)
    url = f"/elasticc/diaobject/?diaObjectId={object_id(1)},{object_id(5)},424242"
    assert _ids(client, url, "diaObjectId") == [object_id(1), object_id(5)]
    body = client.get(url).json()
    assert body["count"] == 2
    assert body["count_is_estimate"] is False
    too_many = ",".join(str(i) for i in range(1001))
    response = client.get(f"/elasticc/diaobject/?diaObjectId={too_many}")
    assert response.status_code == 400
    assert "1000" in response.json()["error"]


def test_cone_and_box_parameters_reach_the_sky_filters(db, client_for, plain_user):
    """The parameters only: the geometry is tested in tests/elasticc/read/test_sky.py."""
    add_objects([(1, 359.9, 0.0), (2, 0.05, 0.0), (3, 10.0, 0.0), (4, 0.5, 5.0)])
    client = client_for(plain_user)
    assert sorted(_ids(client, "/elasticc/diaobject/?ra=0&dec=0&radius=0.2", "diaObjectId")) == [1, 2]
    box = "/elasticc/diaobject/?ra_min=359&ra_max=1&dec_min=-1&dec_max=2"
    assert sorted(_ids(client, box, "diaObjectId")) == [1, 2]
    assert client.get("/elasticc/diaobject/?ra=1&dec=2").status_code == 400
    assert client.get("/elasticc/diaobject/?ra=1&dec=95&radius=1").status_code == 400


def test_source_filters_by_object_and_time(sim, client_for, plain_user):
    client = client_for(plain_user)
    oid = object_id(4)
    assert _ids(client, f"/elasticc/diasource/?diaObjectId={oid}", "diaSourceId") == [source_id(4, j) for j in range(3)]
    url = f"/elasticc/diasource/?diaObjectId={oid}&midPointTai_min=60005&midPointTai_max=60008.5"
    assert _ids(client, url, "diaSourceId") == [source_id(4, 1), source_id(4, 2)]
    url = "/elasticc/diasource/?midPointTai_min=60000&midPointTai_max=60001"
    assert _ids(client, url, "diaSourceId") == [source_id(0, 0)]
    forced = _ids(client, f"/elasticc/diaforcedsource/?diaObjectId={oid}&midPointTai_min=60002", "diaForcedSourceId")
    assert forced == [oid * 1000 + k for k in (1, 2, 3, 4)]


def test_alert_filters_sent_and_time(sim, client_for, plain_user):
    client = client_for(plain_user)
    sent = _ids(client, "/elasticc/diaalert/?sent=true", "alertId")
    assert sent == [source_id(i, 0) for i in range(N_OBJECTS)]
    unsent = _ids(client, "/elasticc/diaalert/?sent=false&limit=1000", "alertId")
    assert len(unsent) == N_OBJECTS * (SOURCES_PER_OBJECT - 1)
    assert not set(sent) & set(unsent)
    assert _ids(client, "/elasticc/diaalert/?alertSentTimestamp_min=2000-01-01T00:00:00Z", "alertId") == sent
    assert _ids(client, "/elasticc/diaalert/?alertSentTimestamp_max=2000-01-01T00:00:00Z", "alertId") == []
    alerts = client.get(f"/elasticc/diaalert/?diaObjectId={object_id(1)}").json()["results"]
    assert [a["alertId"] for a in alerts] == [source_id(1, j) for j in range(3)]
    assert alerts[0]["alertSentTimestamp"] is not None
    assert alerts[1]["alertSentTimestamp"] is None


def test_large_filtered_count_is_a_marked_estimate(sim, client_for, plain_user, monkeypatch):
    monkeypatch.setattr(counts, "EXACT_COUNT_CAP", 5)
    body = client_for(plain_user).get("/elasticc/diasource/?midPointTai_min=60000").json()
    assert body["count_is_estimate"] is True
    assert body["count"] > 5
    small = client_for(plain_user).get(f"/elasticc/diasource/?diaObjectId={object_id(1)}").json()
    assert small["count"] == 3
    assert small["count_is_estimate"] is False


def test_bad_filter_values_are_400_json(sim, client_for, plain_user):
    client = client_for(plain_user)
    for url in (
        "/elasticc/diasource/?midPointTai_min=yesterday",
        "/elasticc/diaobject/?diaObjectId=abc",
        "/elasticc/diaalert/?alertSentTimestamp_min=notadate",
        "/elasticc/diaobject/?limit=5000",
        "/elasticc/diaobject/?after=x",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "error" in response.json()


QUERY_BUDGET = [
    # url, user fixture, max queries (session 2 + count 1 + page 1 + extras)
    ("/elasticc/diaobject/", "plain_user", 4),
    ("/elasticc/diasource/?diaObjectId=1003", "plain_user", 4),
    ("/elasticc/diaforcedsource/", "plain_user", 4),
    ("/elasticc/diaalert/?limit=1000", "plain_user", 4 + BUILDER_STATEMENTS),
    ("/elasticc/diatruth/", "admin_user", 5),
    ("/elasticc/diaobjecttruth/", "admin_user", 5),
    ("/elasticc/diaobject/1003/", "plain_user", 3),
    ("/elasticc/diaalert/100301/", "plain_user", 3 + BUILDER_STATEMENTS),
    ("/elasticc/diatruth/100301/", "admin_user", 4),
    ("/elasticc/brokermessage/", "plain_user", 5),
    ("/elasticc/classids/", "plain_user", 5),
    ("/elasticc/classifiers/", "plain_user", 4),
]


@pytest.mark.parametrize(("url", "who", "budget"), QUERY_BUDGET)
def test_query_count_per_endpoint(sim, client_for, request, django_assert_max_num_queries, url, who, budget):
    client = client_for(request.getfixturevalue(who))
    client.get("/elasticc/classids/")  # warm the session
    with django_assert_max_num_queries(budget):
        response = client.get(url)
    assert response.status_code == 200


def test_classids_and_classifiers(db, client_for, plain_user, api_client):
    client = client_for(plain_user)
    taxonomy = client.get("/elasticc/classids/").json()
    by_id = {row["classId"]: row for row in taxonomy}
    assert by_id[111]["name"]
    assert by_id[111]["level"] == 3
    assert by_id[111]["parent"] == 11
    assert by_id[111]["gentypes"]
    assert any(m["exactMatch"] for m in by_id[111]["gentypeMatches"])
    assert any(m["categoryMatch"] and not m["exactMatch"] for m in by_id[11]["gentypeMatches"])
    assert client.get("/elasticc/classifiers/").json() == []
    assert api_client.get("/elasticc/classids/").status_code in (401, 403)
    assert api_client.get("/elasticc/classifiers/").status_code in (401, 403)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "not-a-time",
    ],
)
def test_alert_time_filters_out_of_range_are_400(sim, client_for, plain_user, value):
    client = client_for(plain_user)
    for name in ("alertSentTimestamp_min", "alertSentTimestamp_max"):
        response = client.get("/elasticc/diaalert/", {name: value})
        assert response.status_code == 400, response.content
        assert name in response.json()["error"]


def test_alert_time_filter_any_offset_is_utc(sim, client_for, plain_user):
    """An offset PostgreSQL refuses (it allows ±15:59) was a 500; in UTC it is a plain time."""
    client = client_for(plain_user)
    sent = _ids(client, "/elasticc/diaalert/?sent=true", "alertId")
    assert _ids(client, "/elasticc/diaalert/?alertSentTimestamp_min=0001-01-01T00:00:00-23:59", "alertId") == sent
