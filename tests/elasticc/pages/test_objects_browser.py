"""The object browser and the confusion-cell drill-down (issue 13 item 4):
filters over `elasticc_metricsobject`, keyset pages, and truth only for those
who may see it."""

from __future__ import annotations

import pytest
from django.db import connection

from elasticc.metrics import readers


def _expected(classifierid: int, sql_filter: str = "TRUE", params: list | None = None) -> list[int]:
    """The same selection straight from the big tables: each object's latest
    top class (by alert sent time) from its messages."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT diaobjectid FROM elasticc_metricsobject WHERE classifierid = %s AND {sql_filter} "
            "ORDER BY diaobjectid",
            [classifierid, *(params or [])],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_cell_lists_the_objects_of_the_confusion_matrix(client, admin_user, fixture_ids):
    classifierid = fixture_ids["A"]
    client.force_login(admin_user)
    cells = readers.confusion(classifierid=classifierid, mode="latest", level="exact")
    assert cells
    for true, pred, n in cells:
        response = client.get(
            f"/elasticc/objects/?classifier={classifierid}&mode=latest&level=exact&trueclass={true}&predclass={pred}"
        )
        assert response.status_code == 200
        rows = response.context["rows"]
        assert len(rows) == n
        assert {(r["trueclassid"], r["predclassid"]) for r in rows} == {(true, pred)}
        html = response.content.decode()
        for r in rows:
            assert f'<a href="/elasticc/object/{r["diaobjectid"]}/">' in html
    # A coarser level: the broad cell holds every exact cell below it.
    broad = readers.confusion(classifierid=classifierid, mode="latest", level="broad")
    true, pred, n = broad[0]
    rows = client.get(
        f"/elasticc/objects/?classifier={classifierid}&level=broad&trueclass={true}&predclass={pred}"
    ).context["rows"]
    assert len(rows) == n


@pytest.mark.django_db
def test_the_matrix_links_its_cells(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    html = client.get(f"/elasticc/metrics/{fixture_ids['A']}/").content.decode()
    assert f'data-drilldown="/elasticc/objects/?classifier={fixture_ids["A"]}&amp;mode=latest&amp;level=exact"' in html
    assert "plotly_click" in html


@pytest.mark.django_db
def test_filters(client, plain_user, fixture_ids):
    classifierid = fixture_ids["A"]
    client.force_login(plain_user)

    def listed(query: str) -> list[int]:
        response = client.get(f"/elasticc/objects/?classifier={classifierid}&{query}")
        assert response.status_code == 200, response.content
        return [r["diaobjectid"] for r in response.context["rows"]]

    assert listed("") == _expected(classifierid)
    assert listed("pmin=0.6") == _expected(classifierid, "latest_prob >= 0.6")
    assert listed("mode=best&pmin=0.6") == _expected(classifierid, "best_prob >= 0.6")
    # Probabilities are reals: a stored 0.9 is >= 0.9 (as a double it is 0.89999998).
    assert listed("mode=best&pmin=0.9") == [1002]
    assert listed("predclass=111") == _expected(classifierid, "latest_classid = 111")
    assert listed("ndet_min=3") == _expected(classifierid, "ndet >= 3")
    assert listed("ndet_max=2") == _expected(classifierid, "ndet <= 2")
    assert listed("mjd_min=60002&mjd_max=60003") == _expected(classifierid, "lastdet >= 60002 AND firstdet <= 60003")
    # ndet is the object's detections
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM elasticc_diasource WHERE diaobjectid = 1001")
        (n1001,) = cursor.fetchone()
    rows = client.get(f"/elasticc/objects/?classifier={classifierid}").context["rows"]
    assert next(r["ndet"] for r in rows if r["diaobjectid"] == 1001) == n1001


@pytest.mark.django_db
def test_truth_only_for_admins(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    response = client.get(f"/elasticc/objects/?classifier={fixture_ids['A']}&trueclass=111")
    assert response.status_code == 200
    assert "trueclass" not in response.context["form"].fields
    rows = response.context["rows"]
    assert rows
    assert all(r["trueclassid"] is None for r in rows)
    assert len(rows) == len(_expected(fixture_ids["A"]))  # the true-class filter is ignored
    assert "True class" not in response.content.decode()


@pytest.mark.django_db
def test_keyset_pages(client, plain_user, fixture_ids, monkeypatch):
    from elasticc.pages import views

    monkeypatch.setattr(views, "OBJECTS_PER_PAGE", 1)
    client.force_login(plain_user)
    url = f"/elasticc/objects/?classifier={fixture_ids['A']}"
    seen = []
    while url:
        response = client.get(url)
        seen += [r["diaobjectid"] for r in response.context["rows"]]
        url = f"/elasticc/objects/?{response.context['next_query']}" if response.context["next_query"] else None
    assert seen == _expected(fixture_ids["A"])
    assert len(seen) > 1


@pytest.mark.django_db
def test_bad_input(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    assert client.get("/elasticc/objects/").status_code == 200
    assert client.get("/elasticc/objects/?classifier=999999").status_code == 400
    assert client.get(f"/elasticc/objects/?classifier={fixture_ids['A']}&pmin=2").status_code == 400
    assert client.get(f"/elasticc/objects/?classifier={fixture_ids['A']}&level=general").status_code == 400
    client.logout()
    assert client.get("/elasticc/objects/").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["days1", "days3", "days10", "days30"])
def test_cells_of_the_n_days_matrices(client, admin_user, fixture_ids, mode):
    """The drill-down of a cell of an N-day matrix lists exactly its objects,
    with the prediction of that mode."""
    classifierid = fixture_ids["A"]
    client.force_login(admin_user)
    cells = readers.confusion(classifierid=classifierid, mode=mode, level="exact")
    assert cells
    for true, pred, n in cells:
        response = client.get(
            f"/elasticc/objects/?classifier={classifierid}&mode={mode}&level=exact&trueclass={true}&predclass={pred}"
        )
        assert response.status_code == 200
        rows = response.context["rows"]
        assert len(rows) == n
        assert {(r["trueclassid"], r["predclassid"]) for r in rows} == {(true, pred)}
    # At 1 day object 1001 (true 111) was predicted 112 with p = 0.6 (its latest prediction is 111).
    rows = client.get(f"/elasticc/objects/?classifier={classifierid}&mode=days1&trueclass=111").context["rows"]
    assert [(r["diaobjectid"], r["predclassid"], round(r["probability"], 3)) for r in rows] == [(1001, 112, 0.6)]
    assert client.get(f"/elasticc/objects/?classifier={classifierid}&mode=days2").status_code == 400
