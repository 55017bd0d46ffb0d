"""The metrics data endpoints (/elasticc/metricsdata/...): the same numbers
as the pages, in JSON and CSV; truth-derived ones 403 JSON for non-admins."""

from __future__ import annotations

import pytest

from tests.builders import add_objects
from tests.elasticc.downloads import csv_rows
from tests.responses import body, json_body

TRUTH_ENDPOINTS = ["comparison/classes/", "{A}/confusion/", "{A}/trueprob/"]


def _csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.streaming
    return csv_rows(response)


@pytest.mark.django_db
def test_comparison_json_and_csv_match_the_page(client_for, admin_user, fixture_ids):
    client = client_for(admin_user)
    rows = json_body(client.get("/elasticc/metricsdata/comparison/?mode=latest&level=exact"))
    a = {r["classifierid"]: r for r in rows}[fixture_ids["A"]]
    assert a["accuracy"] == pytest.approx(2 / 3)
    assert a["macro_f1"] == pytest.approx(0.5)
    assert (a["nobjects"], a["nalerts"], a["alerts_sent"]) == (4, 6, 7)
    assert a["delay_median_low_s"] == pytest.approx(10.0)
    table = _csv(client.get("/elasticc/metricsdata/comparison/?mode=latest&level=exact&format=csv"))
    row = {int(r["classifierid"]): r for r in table}[fixture_ids["A"]]
    assert float(row["accuracy"]) == pytest.approx(2 / 3)
    assert float(row["completeness"]) == pytest.approx(6 / 7)
    classes = json_body(client.get("/elasticc/metricsdata/comparison/classes/?level=exact"))
    of_a = {r["classid"]: r for r in classes if r["classifierid"] == fixture_ids["A"]}
    assert (of_a[113]["purity"], of_a[113]["completeness"], of_a[113]["f1"]) == (0.0, None, 0.0)


@pytest.mark.django_db
def test_chart_endpoints(client_for, admin_user, fixture_ids):
    client = client_for(admin_user)
    a = fixture_ids["A"]
    delays = json_body(client.get(f"/elasticc/metricsdata/{a}/delays/"))
    broker = [r for r in delays if r["kind"] == "broker"]
    assert [r["messages"] for r in broker] == [0, 0, 0, 0, 0, 0, 0, 6]
    assert broker[-1]["low_s"] == pytest.approx(10.0)
    assert len(_csv(client.get(f"/elasticc/metricsdata/{a}/delays/?format=csv"))) == 24
    # Completeness: by simulated night unless asked for the send day.
    completeness = json_body(client.get(f"/elasticc/metricsdata/{a}/completeness/"))
    assert [(r["night"], r["sent"], r["classified"]) for r in completeness] == [(60000, 4, 4), (60002, 3, 2)]
    confusion = json_body(client.get(f"/elasticc/metricsdata/{a}/confusion/?mode=latest&level=exact"))
    assert confusion == [
        {"trueclassid": 111, "predclassid": 111, "objects": 1},
        {"trueclassid": 112, "predclassid": 113, "objects": 1},
        {"trueclassid": 122, "predclassid": 122, "objects": 1},
    ]
    trueprob = client.get(f"/elasticc/metricsdata/{a}/trueprob/?format=csv")
    assert {r["trueclass"] for r in _csv(trueprob)} == {"111", "112", "122", "all"}
    assert client.get("/elasticc/metricsdata/999999/delays/").status_code == 404
    assert client.get(f"/elasticc/metricsdata/{a}/confusion/?level=bogus").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["", "?format=csv"])
def test_truth_endpoints_are_403_json_for_others(client_for, plain_user, broker_user, fixture_ids, fmt):
    for user in (plain_user, broker_user):
        client = client_for(user)
        for path in TRUTH_ENDPOINTS:
            response = client.get(f"/elasticc/metricsdata/{path.format(A=fixture_ids['A'])}{fmt}")
            assert response.status_code == 403
            assert response["Content-Type"].startswith("application/json")
            assert "elasticc_admin" in json_body(response)["error"]
        rows = json_body(client.get("/elasticc/metricsdata/comparison/"))
        assert not {"accuracy", "macro_f1", "objects"} & set(rows[0])
        assert client.get(f"/elasticc/metricsdata/{fixture_ids['A']}/delays/").status_code == 200


DOWNLOADS = [
    "comparison/?mode=best&level=broad",
    "comparison/classes/?level=category",
    "{A}/delays/?",
    "{A}/completeness/?period=week",
    "{A}/confusion/?level=exact",
    "{A}/trueprob/?",
    "object/1001/alerts/?",
    "object/1001/classifications/?",
    "stream/nights/?",
    "stream/lag/?",
]


@pytest.mark.django_db
def test_every_download_streams(client_for, admin_user, fixture_ids):
    """Every data link streams, in both formats, the same table."""
    client = client_for(admin_user)
    for path in DOWNLOADS:
        url = f"/elasticc/metricsdata/{path.format(A=fixture_ids['A'])}"
        url += "" if url.endswith("?") else "&"
        as_json = client.get(f"{url}format=json")
        as_csv = client.get(f"{url}format=csv")
        for response in (as_json, as_csv):
            assert response.status_code == 200, url
            assert response.streaming, url
        assert as_json["Content-Type"] == "application/json"
        assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
        rows = json_body(as_json)
        assert rows, url
        table = csv_rows(as_csv)
        assert [list(row) for row in table] == [list(row) for row in rows], url


@pytest.mark.django_db
def test_an_object_without_rows_is_an_empty_download_or_404(client_for, plain_user, fixture_ids):
    client = client_for(plain_user)
    add_objects([(4242, 1.0, 2.0)])
    assert body(client.get("/elasticc/metricsdata/object/4242/classifications/")) == b"[]"
    assert body(client.get("/elasticc/metricsdata/object/4242/classifications/?format=csv")) == b""
    missing = client.get("/elasticc/metricsdata/object/4243/classifications/?format=csv")
    assert missing.status_code == 404
    assert not missing.streaming
    assert json_body(missing)["error"] == "no such object"


@pytest.mark.django_db
def test_metrics_endpoints_are_in_the_openapi_schema(client_for, plain_user):
    schema = client_for(plain_user).get("/api/schema/?format=json").json()
    for path in (
        "/elasticc/metricsdata/comparison/",
        "/elasticc/metricsdata/comparison/classes/",
        "/elasticc/metricsdata/{classifierid}/delays/",
        "/elasticc/metricsdata/{classifierid}/completeness/",
        "/elasticc/metricsdata/{classifierid}/confusion/",
        "/elasticc/metricsdata/{classifierid}/trueprob/",
        "/elasticc/metricsdata/pair/f1/",
        "/elasticc/metricsdata/object/{diaobjectid}/lightcurve/",
    ):
        assert path in schema["paths"], path
        assert schema["paths"][path]["get"]["summary"]


@pytest.mark.django_db
def test_completeness_axes_and_windows(client_for, plain_user, fixture_ids):
    client = client_for(plain_user)
    url = f"/elasticc/metricsdata/{fixture_ids['A']}/completeness/"
    night = json_body(client.get(f"{url}?axis=night&mjd_min=60001&mjd_max=60002.7"))
    assert night == [{"night": 60002, "sent": 3, "classified": 2, "fraction": pytest.approx(2 / 3)}]
    weeks = json_body(client.get(f"{url}?period=week"))
    assert [(r["night"], r["sent"], r["classified"]) for r in weeks] == [(59995, 4, 4), (60002, 3, 2)]
    sent = json_body(client.get(f"{url}?axis=sent&start=2026-01-02"))
    assert sent == [{"start": "2026-01-02", "sent": 3, "classified": 2, "fraction": pytest.approx(2 / 3)}]
    table = _csv(client.get(f"{url}?format=csv"))
    assert [(r["night"], r["sent"], r["classified"]) for r in table] == [("60000", "4", "4"), ("60002", "3", "2")]
    for bad in ("axis=wallclock", "mjd_min=60003&mjd_max=60001", "mjd_min=soon"):
        response = client.get(f"{url}?{bad}")
        assert response.status_code == 400, bad
        assert response["Content-Type"].startswith("application/json")
        assert json_body(response)["error"]


@pytest.mark.django_db
def test_n_days_modes(client_for, admin_user, fixture_ids):
    client = client_for(admin_user)
    a = fixture_ids["A"]
    confusion = json_body(client.get(f"/elasticc/metricsdata/{a}/confusion/?mode=days1&level=exact"))
    assert confusion == [
        {"trueclassid": 111, "predclassid": 112, "objects": 1},
        {"trueclassid": 112, "predclassid": 112, "objects": 1},
        {"trueclassid": 122, "predclassid": 122, "objects": 1},
    ]
    rows = json_body(client.get("/elasticc/metricsdata/comparison/?mode=days1&level=exact"))
    row = {r["classifierid"]: r for r in rows}[a]
    assert (row["objects"], row["accuracy"]) == (3, pytest.approx(2 / 3))
    assert row["macro_f1"] == pytest.approx(5 / 9)
    classes = _csv(client.get("/elasticc/metricsdata/comparison/classes/?mode=days1&format=csv"))
    of_a = {r["classid"]: r for r in classes if int(r["classifierid"]) == a}
    assert (of_a["112"]["purity"], of_a["112"]["completeness"]) == ("0.5", "1.0")
    days30 = json_body(client.get(f"/elasticc/metricsdata/{a}/confusion/?mode=days30&level=exact"))
    assert days30 == json_body(client.get(f"/elasticc/metricsdata/{a}/confusion/?mode=latest&level=exact"))
    for path in (f"{a}/confusion/", "comparison/", "comparison/classes/"):
        for mode in ("days2", "N=3", "DAYS1"):
            response = client.get(f"/elasticc/metricsdata/{path}?mode={mode}")
            assert response.status_code == 400, (path, mode)
            assert response["Content-Type"].startswith("application/json")
            assert "mode" in json_body(response)["error"]


@pytest.mark.django_db
def test_openapi_lists_the_modes_and_axes(client_for, plain_user):
    schema = client_for(plain_user).get("/api/schema/?format=json").json()

    def parameter(path: str, name: str) -> dict:
        return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)

    modes = ["latest", "best", "days1", "days3", "days10", "days30"]
    for path in (
        "/elasticc/metricsdata/comparison/",
        "/elasticc/metricsdata/comparison/classes/",
        "/elasticc/metricsdata/{classifierid}/confusion/",
    ):
        assert sorted(parameter(path, "mode")["schema"]["enum"]) == sorted(modes)
    completeness = "/elasticc/metricsdata/{classifierid}/completeness/"
    assert sorted(parameter(completeness, "axis")["schema"]["enum"]) == ["night", "sent"]
    assert parameter(completeness, "mjd_min")["schema"]["type"] == "number"


@pytest.mark.django_db
def test_pair_f1_difference_as_the_page_shows_it(client_for, plain_user, admin_user, fixture_ids):
    a, b = fixture_ids["A"], fixture_ids["B"]
    url = f"/elasticc/metricsdata/pair/f1/?a={a}&b={b}&mode=latest&level=exact"
    denied = client_for(plain_user).get(url)
    assert denied.status_code == 403
    client = client_for(admin_user)
    rows = json_body(client.get(url))
    # A: F1 111 = 1, 112 = 0, 113 = 0, 122 = 1; B (only object 1001, 111 -> 111): F1 111 = 1.
    assert [(r["classid"], r["a"], r["b"], r["diff"]) for r in rows] == [
        (111, 1.0, 1.0, 0.0),
        (112, 0.0, 0.0, 0.0),
        (113, 0.0, 0.0, 0.0),
        (122, 1.0, 0.0, -1.0),
    ]
    page = client.get(url.replace("/elasticc/metricsdata/pair/f1/", "/elasticc/metrics/compare/"))
    assert rows == page.context["charts"]["f1_diff"]
    table = _csv(client.get(f"{url}&format=csv"))
    assert list(table[0]) == ["classid", "class", "a", "b", "diff"]
    assert table[-1]["class"].startswith("122 ")
    assert float(table[-1]["diff"]) == -1.0
    for bad in (f"a={a}", f"a={a}&b={b}&mode=days2", f"a={a}&b=999999"):
        response = client.get(f"/elasticc/metricsdata/pair/f1/?{bad}")
        assert response.status_code in (400, 404), bad
        assert json_body(response)["error"]


@pytest.mark.django_db
def test_object_light_curve_download(client_for, plain_user, fixture_ids):
    client = client_for(plain_user)
    rows = json_body(client.get("/elasticc/metricsdata/object/1001/lightcurve/"))
    # Object 1001: detections at MJD 60000.3, 60002.3, 60005.3 (g, r, i); forced at 59991..59995.
    assert [(r["kind"], r["midpointtai"]) for r in rows] == [
        *(("forced", pytest.approx(59990.0 + i)) for i in range(1, 6)),
        *(("detection", pytest.approx(60000.3 + d)) for d in (0, 2, 5)),
    ]
    assert rows[-1] == {
        "kind": "detection",
        "id": 10012,
        "midpointtai": pytest.approx(60005.3),
        "filtername": "i",
        "psflux": pytest.approx(1200.0),
        "psfluxerr": pytest.approx(50.0),
        "snr": pytest.approx(20.0),
    }
    assert rows[0]["snr"] is None
    table = _csv(client.get("/elasticc/metricsdata/object/1001/lightcurve/?format=csv"))
    assert len(table) == len(rows)
    assert list(table[0]) == ["kind", "id", "midpointtai", "filtername", "psflux", "psfluxerr", "snr"]
    assert client.get("/elasticc/metricsdata/object/999999/lightcurve/").status_code == 404
