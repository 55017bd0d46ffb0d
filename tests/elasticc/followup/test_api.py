"""The follow-up API on the sample (alerts through MJD 60578 sent): the whole
ask / wanted / plan / withdraw / report / known-spectra cycle, the three
light-curve formats, permissions and bad input. Real PostgreSQL."""

from __future__ import annotations

import base64
import json

import pandas
import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from elasticc.followup import selectors
from elasticc.followup.selectors import HOST_COLUMNS
from tests.builders import PASSWORD
from tests.responses import json_body

MJD_NOW = 60578.0


def post(client: APIClient, path: str, body: object, *, status: int = 200) -> dict:
    """POST to the original's path (no trailing slash), as its tom_client.py does."""
    res = client.post(f"/elasticc2/{path}", body, format="json")
    assert res.status_code == status, res.content
    return json_body(res)


@pytest.fixture
def user_client(sent_sample, plain_user, client_for) -> APIClient:
    return client_for(plain_user)


def hot(client: APIClient, **body) -> list[dict]:
    return post(client, "gethottransients", {"mjd_now": MJD_NOW, **body})["diaobject"]


def test_hot_transients_by_since_and_by_last_days(user_client):
    since = hot(user_client, detected_since_mjd=MJD_NOW - 10)
    last = hot(user_client, detected_in_last_days=10)
    assert since
    assert [o["objectid"] for o in since] == [o["objectid"] for o in last]
    everything = hot(user_client, detected_since_mjd=0)
    assert len(everything) == 102
    assert sum(len(o["photometry"]["mjd"]) for o in everything) == 4242
    assert len(hot(user_client, detected_in_last_days=10_000)) == 102
    assert hot(user_client, detected_since_mjd=MJD_NOW + 1) == []
    # the default window is the last 30 days before now: the simulation is in the past of the wall clock
    assert post(user_client, "gethottransients", {})["diaobject"] == []


def test_the_three_formats_and_host_info(user_client):
    zero = hot(user_client, detected_since_mjd=MJD_NOW - 10)
    first = zero[0]
    assert set(first) == {"objectid", "ra", "dec", "zp", "redshift", "sncode", "photometry"}
    assert first["zp"] == 31.4
    assert first["redshift"] == -99
    assert first["sncode"] == -99
    assert set(first["photometry"]) == {"mjd", "band", "flux", "fluxerr"}
    assert max(first["photometry"]["mjd"]) <= MJD_NOW

    one = hot(user_client, detected_since_mjd=MJD_NOW - 10, return_format=1)
    assert one[0]["mjd"] == first["photometry"]["mjd"]
    assert "photometry" not in one[0]

    two = hot(user_client, detected_since_mjd=MJD_NOW - 10, return_format=2)
    frame = pandas.DataFrame(two)
    assert len(frame) == len(zero)
    assert list(frame["objectid"]) == [o["objectid"] for o in zero]
    assert frame["mjd"].iloc[0] == first["photometry"]["mjd"]
    assert isinstance(frame["mjd"].iloc[0], list)

    with_host = hot(user_client, detected_since_mjd=MJD_NOW - 10, include_hostinfo=1)
    assert set(HOST_COLUMNS) <= set(with_host[0])
    assert {"hostgal_mag_u", "hostgal_mag_y", "hostgal_magerr_y", "hostgal_snsep"} <= set(with_host[0])
    assert not set(HOST_COLUMNS) & set(first)
    assert set(HOST_COLUMNS) <= set(hot(user_client, detected_since_mjd=0, include_hostinfo=1, return_format=2))


@pytest.mark.parametrize("return_format", [0, 1, 2])
def test_light_curves_stream_the_same_answer_in_any_chunk_size(user_client, monkeypatch, return_format):
    body = {"mjd_now": MJD_NOW, "detected_since_mjd": 0, "return_format": return_format, "include_hostinfo": 1}
    whole = user_client.post("/elasticc2/gethottransients", body, format="json")
    assert whole.streaming
    expected = json_body(whole)
    for chunk in (1, 7, 102):  # one object per FETCH, a ragged last one, exactly all of them
        monkeypatch.setattr(selectors, "LIGHT_CURVE_CHUNK", chunk)
        streamed = user_client.post("/elasticc2/gethottransients", body, format="json")
        assert json_body(streamed) == expected
    objects = expected["diaobject"]
    assert (len(objects["objectid"]) if return_format == 2 else len(objects)) == 102


def test_ltcv_of_one_and_many_and_its_alias(user_client):
    objects = hot(user_client, detected_since_mjd=0)[:3]
    ids = [o["objectid"] for o in objects]
    one = post(user_client, "ltcv", {"objectid": ids[0]})["diaobject"]
    assert one == objects[:1]
    many = post(user_client, "ltcvs/", {"objectids": ids, "mjd_now": MJD_NOW})["diaobject"]
    assert many == objects
    res = user_client.generic(
        "GET", "/elasticc2/ltcv", json.dumps({"objectid": ids[0]}), content_type="application/json"
    )
    assert res.status_code == 200
    assert json_body(res)["diaobject"] == one
    early = post(user_client, "ltcv", {"objectid": ids[0], "mjd_now": min(one[0]["photometry"]["mjd"]) - 1}, status=404)
    assert str(ids[0]) in early["error"]


def test_the_whole_spectrum_cycle(user_client, plain_user):
    objects = hot(user_client, detected_since_mjd=0)
    a, b, c = (o["objectid"] for o in objects[:3])

    asked = post(
        user_client, "askforspectrum", {"requester": "RESSPECT", "objectids": [a, b, c], "priorities": [3, 9, -2]}
    )
    assert asked == {"status": "ok", "message": "wanted spectra created", "num": 3}
    wanted = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    assert {(w["oid"], w["req"], w["prio"]) for w in wanted} == {
        (a, "RESSPECT", 3),
        (b, "RESSPECT", 5),
        (c, "RESSPECT", 0),
    }
    latest = next(w for w in wanted if w["oid"] == a)["latest"]
    assert latest
    assert all(set(point) == {"mjd", "mag"} for point in latest.values())
    assert all(point["mjd"] <= MJD_NOW for point in latest.values())

    # asking again replaces the priority
    post(user_client, "askforspectrum", {"requester": "RESSPECT", "objectids": [a], "priorities": [1]})
    wanted = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    assert next(w for w in wanted if w["oid"] == a)["prio"] == 1
    assert len(wanted) == 3

    plan = post(
        user_client,
        "planspectrum",
        {"objectid": a, "facility": "Gemini", "plantime": "2024-09-02 04:00:00", "comment": "GMOS"},
    )
    assert plan["status"] == "ok"
    assert plan["plantime"].startswith("2024-09-02T04:00:00")
    assert plan["created_at"]
    wanted = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    assert a not in {w["oid"] for w in wanted}
    ignoring_plans = {"mjd_now": MJD_NOW, "detected_since_mjd": 0, "not_claimed_in_last_days": 0}
    assert a in {w["oid"] for w in post(user_client, "spectrawanted", ignoring_plans)["wantedspectra"]}

    withdrawn = post(user_client, "removespectrumplan", {"objectid": a, "facility": "Gemini"})
    assert withdrawn == {"status": "ok", "objectid": a, "facility": "Gemini", "n_deleted": 1}
    wanted = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    assert a in {w["oid"] for w in wanted}

    post(user_client, "planspectrum", {"objectid": b, "facility": "SOAR", "plantime": "2024-09-03"})
    reported = post(
        user_client,
        "reportspectruminfo",
        {"objectid": b, "facility": "SOAR", "mjd": MJD_NOW - 1, "z": 0.12, "classid": 2222},
    )
    assert reported["status"] == "ok"
    assert reported["z"] == 0.12
    assert post(user_client, "removespectrumplan", {"objectid": b, "facility": "SOAR"})["n_deleted"] == 0
    post(
        user_client,
        "reportspectruminfo",
        {"objectid": c, "facility": "Keck", "mjd": MJD_NOW - 20, "z": "", "classid": 300},
    )

    wanted = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    assert b not in {w["oid"] for w in wanted}  # a spectrum in the last 7 days
    assert c in {w["oid"] for w in wanted}  # its spectrum is older than that
    assert b in {
        w["oid"]
        for w in post(
            user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0, "no_spectra_in_last_days": 0}
        )["wantedspectra"]
    }

    # redshift and class of the light curves come from the latest report
    (lc,) = post(user_client, "ltcv", {"objectid": b})["diaobject"]
    assert lc["redshift"] == pytest.approx(0.12)
    assert lc["sncode"] == 2222
    (lc,) = post(user_client, "ltcv", {"objectid": c})["diaobject"]
    assert lc["redshift"] == -99
    assert lc["sncode"] == 300

    def known(**body) -> list[tuple]:
        return [(s["objectid"], s["facility"]) for s in post(user_client, "getknownspectruminfo", body)["spectra"]]

    assert known() == [(c, "Keck"), (b, "SOAR")]  # by mjd
    assert known(objectid=b) == [(b, "SOAR")]
    assert known(objectid=[b, c]) == [(c, "Keck"), (b, "SOAR")]
    assert known(facility="Keck") == [(c, "Keck")]
    assert known(mjd_min=MJD_NOW - 5) == [(b, "SOAR")]
    assert known(mjd_max=MJD_NOW - 5) == [(c, "Keck")]
    assert known(classid=300) == [(c, "Keck")]
    assert known(z_min=0.1, z_max=0.2) == [(b, "SOAR")]
    assert known(z_max=0.1) == []
    assert known(since="2000-01-01T00:00:00") == [(c, "Keck"), (b, "SOAR")]
    assert known(since="2999-01-01") == []
    assert post(user_client, "getknownspectruminfo", {"objectid": b})["spectra"][0] == {
        "objectid": b, "facility": "SOAR", "mjd": MJD_NOW - 1, "z": 0.12, "classid": 2222,
    }  # fmt: skip


def test_wanted_filters(user_client):
    objects = hot(user_client, detected_since_mjd=0)
    recent = hot(user_client, detected_since_mjd=MJD_NOW - 5)
    old = next(o["objectid"] for o in objects if o["objectid"] not in {r["objectid"] for r in recent})
    new = recent[0]["objectid"]
    post(user_client, "askforspectrum", {"requester": "R", "objectids": [old, new], "priorities": [2, 2]})

    def wanted(**body) -> set[int]:
        return {w["oid"] for w in post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, **body})["wantedspectra"]}

    assert wanted(detected_since_mjd=0) == {old, new}
    assert wanted(detected_since_mjd=MJD_NOW - 5) == {new}
    assert wanted(detected_in_last_days=5) == {new}
    assert new in wanted()  # default: detected in the last 14 days
    assert wanted(detected_since_mjd=0, requested_since="2999-01-01") == set()
    assert wanted(detected_since_mjd=0, requested_since="2000-01-01 00:00:00") == {old, new}
    everything = post(user_client, "spectrawanted", {"mjd_now": MJD_NOW, "detected_since_mjd": 0})["wantedspectra"]
    r_mags = {w["oid"]: w["latest"]["r"]["mag"] for w in everything if "r" in w["latest"]}
    assert r_mags
    oid, mag = next(iter(r_mags.items()))
    assert oid in wanted(detected_since_mjd=0, lim_mag=mag + 0.01, lim_mag_band="r")
    assert oid not in wanted(detected_since_mjd=0, lim_mag=mag - 0.01, lim_mag_band="r")


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("ltcv", {"objectid": "12"}, "objectid"),
        ("ltcv", {"objectid": 1, "objectids": [1]}, "objectids"),
        ("ltcv", {}, "objectids"),
        ("ltcv", {"objectids": [1], "return_format": 3}, "return_format"),
        ("ltcv", {"objectids": [1], "include_hostinfo": True, "colour": 1}, "colour"),
        ("gethottransients", {"detected_since_mjd": 1, "detected_in_last_days": 2}, "detected_in_last_days"),
        ("gethottransients", {"mjd_now": "soon"}, "mjd_now"),
        ("askforspectrum", {"requester": "R", "objectids": [1, 2], "priorities": [1]}, "priorities"),
        ("askforspectrum", {"objectids": [1], "priorities": [1]}, "requester"),
        ("askforspectrum", {"requester": "R", "objectids": 1, "priorities": [1]}, "objectids"),
        ("spectrawanted", {"lim_mag": 20}, "lim_mag_band"),
        ("spectrawanted", {"lim_mag": 20, "lim_mag_band": "q"}, "lim_mag_band"),
        ("spectrawanted", {"requested_since": "yesterday"}, "requested_since"),
        ("planspectrum", {"objectid": 1, "facility": "G"}, "plantime"),
        ("planspectrum", {"objectid": 1, "facility": "G", "plantime": "2024-13-45"}, "plantime"),
        ("removespectrumplan", {"objectid": 1}, "facility"),
        ("reportspectruminfo", {"objectid": 1, "facility": "G", "mjd": 1.0, "z": "0.1", "classid": 2222}, "z"),
        ("getknownspectruminfo", {"objectid": ["1"]}, "objectid"),
        ("getknownspectruminfo", {"z_min": True}, "z_min"),
    ],
)
def test_bad_bodies_get_a_400_naming_the_key(user_client, path, body, key):
    answer = post(user_client, path, body, status=400)
    assert answer["status"] == "error"
    assert answer["key"] == key
    assert key in answer["error"]


def test_unknown_objects_and_classes(user_client):
    known = hot(user_client, detected_since_mjd=0)[0]["objectid"]
    for path, body in [
        ("ltcv", {"objectids": [known, 999_999_999]}),
        ("askforspectrum", {"requester": "R", "objectids": [known, 999_999_999], "priorities": [1, 1]}),
        ("planspectrum", {"objectid": 999_999_999, "facility": "G", "plantime": "2024-09-01"}),
        ("reportspectruminfo", {"objectid": 999_999_999, "facility": "G", "mjd": 1.0, "z": 0.1, "classid": 2222}),
    ]:
        answer = post(user_client, path, body, status=404)
        assert answer["objectids"] == [999_999_999]
        assert "999999999" in answer["error"]
    assert post(user_client, "spectrawanted", {"detected_since_mjd": 0, "mjd_now": MJD_NOW})["wantedspectra"] == []
    bad_class = {"objectid": known, "facility": "G", "mjd": 1.0, "z": 0.1, "classid": 9999}
    assert post(user_client, "reportspectruminfo", bad_class, status=400)["key"] == "classid"
    assert post(user_client, "getknownspectruminfo", {})["spectra"] == []
    assert post(user_client, "ltcv", "[1, 2]", status=400)["error"]


def test_who_may(sent_sample, plain_user, admin_user, client_for):
    anonymous = APIClient()
    assert anonymous.post("/elasticc2/gethottransients", {}, format="json").status_code == 403
    cheat = {"detected_since_mjd": 0, "mjd_now": MJD_NOW, "cheat_gentypes": [20]}
    assert post(client_for(plain_user), "gethottransients", cheat, status=403)["status"] == "error"
    assert post(client_for(admin_user), "gethottransients", cheat)["diaobject"] == []  # the sample has no truth here
    assert client_for(plain_user).get("/elasticc2/askforspectrum").status_code == 405


def test_session_csrf_token_and_basic(sent_sample, plain_user):
    body = json.dumps({"detected_since_mjd": 0, "mjd_now": MJD_NOW})
    session = Client(enforce_csrf_checks=True)
    session.get("/accounts/login/")
    session.post(
        "/accounts/login/",
        {
            "username": plain_user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"].value,
        },
    )
    assert session.post("/elasticc2/gethottransients", body, content_type="application/json").status_code == 403
    ok = session.post(
        "/elasticc2/gethottransients",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": session.cookies["csrftoken"].value},
    )
    assert ok.status_code == 200
    assert len(json_body(ok)["diaobject"]) == 102

    token, _ = Token.objects.get_or_create(user=plain_user)
    by_token = Client().post(
        "/elasticc2/gethottransients/",
        body,
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )
    assert by_token.status_code == 200
    basic = base64.b64encode(f"{plain_user.username}:{PASSWORD}".encode()).decode()
    by_basic = Client().post(
        "/elasticc2/gethottransients",
        body,
        content_type="application/json",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert by_basic.status_code == 200


def test_openapi_documents_the_eight_endpoints(sent_sample, plain_user, client_for):
    schema = client_for(plain_user).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for name in (
        "ltcv", "gethottransients", "askforspectrum", "spectrawanted",
        "planspectrum", "removespectrumplan", "reportspectruminfo", "getknownspectruminfo",
    ):  # fmt: skip
        operation = schema["paths"][f"/elasticc2/{name}/"]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["properties"]


def test_make_target_by_api(user_client):
    objectid = hot(user_client, detected_since_mjd=0)[0]["objectid"]
    made = post(user_client, "maketarget", {"objectid": objectid})
    assert made["created"] is True
    assert made["name"] == str(objectid)
    assert made["url"].endswith(f"/targets/{made['target_id']}/")
    again = post(user_client, "maketarget", {"objectid": objectid})
    assert again["created"] is False
    assert again["target_id"] == made["target_id"]
    assert post(user_client, "maketarget", {"objectid": 999_999_999}, status=404)["objectids"] == [999_999_999]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/elasticc2/maketarget/", {"objectid": -4509}),
        ("/elasticc2/ltcv/", None),
        ("/elasticc2/gethottransients/", None),
        ("/elasticc2/spectrawanted/", None),
        ("/elasticc2/getknownspectruminfo/", {"objectid": [5251815869357795856875520]}),
        (
            "/elasticc2/reportspectruminfo/",
            {"objectid": 301654769087481914719308087296, "facility": "x", "mjd": 1.0, "z": 0.1, "classid": 2222},
        ),
    ],
)
def test_what_the_schema_fuzzer_found_is_a_4xx_or_an_answer(client_for, plain_user, path, body):
    """A JSON null body, ids beyond 64 bits and a negative id were 500s."""
    response = client_for(plain_user).post(path, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, response.content[:300]
    assert "status" in json_body(response)
