"""The ELAsTiCC pages (elasticc.pages), on the hand-made metrics data set of
tests.builders (fixture `fixture_ids`)."""

from __future__ import annotations

import pytest
from django.db import connection

PAGES = ["/elasticc/", "/elasticc/summary/", "/elasticc/metrics/", "/elasticc/object/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*PAGES, "/elasticc/summary/truth/", "/elasticc/metrics/1/", "/elasticc/object/1/"])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_admin_summary_is_admin_only(client, plain_user, broker_user, admin_user, fixture_ids):
    for user in (plain_user, broker_user):
        client.force_login(user)
        assert client.get("/elasticc/summary/truth/").status_code == 403
    client.force_login(admin_user)
    response = client.get("/elasticc/summary/truth/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="navbar' in html
    rows = {row["classid"]: row for row in response.context["rows"]}
    assert rows[122]["objects"] == 1
    assert rows[122]["gentypes"] == [(82, 1)]
    assert [row["classid"] for row in response.context["rows"]] == [111, 112, 122]
    assert '<tr data-classid="122">' in html
    assert response.context["object_truth"] == 3


@pytest.mark.django_db
def test_front_page_links_everything(client, plain_user, admin_user, fixture_ids):
    client.force_login(plain_user)
    html = client.get("/elasticc/").content.decode()
    for url in ("/elasticc/summary/", "/elasticc/metrics/", "/elasticc/object/", "/api/docs/"):
        assert f'href="{url}"' in html
    assert "/elasticc/summary/truth/" not in html
    client.force_login(admin_user)
    assert 'href="/elasticc/summary/truth/"' in client.get("/elasticc/").content.decode()


def _db_count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_summary_numbers_match_database(client, plain_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    with django_assert_max_num_queries(8):
        response = client.get("/elasticc/summary/")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["objects"] == _db_count("SELECT count(*) FROM elasticc_diaobject") == 4
    assert ctx["sources"] == _db_count("SELECT count(*) FROM elasticc_diasource") == 12
    assert ctx["forced"] == _db_count("SELECT count(*) FROM elasticc_diaforcedsource") == 20
    sent = _db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
    assert (ctx["alerts_sent"], ctx["alerts_unsent"]) == (sent, 12 - sent)
    assert ctx["broker_messages"] == _db_count("SELECT count(*) FROM elasticc_brokermessage") == 6
    by_id = {c["classifierid"]: c for c in ctx["classifiers"]}
    a = by_id[fixture_ids["A"]]
    assert a["numclassifications"] == _db_count(
        f"SELECT count(*) FROM elasticc_brokerclassification WHERE classifierid = {fixture_ids['A']}"
    )
    assert a["nmessages"] == 6
    assert (a["brokername"], a["brokerversion"], a["classifiername"], a["classifierparams"]) == (
        "TestBroker",
        "1.0",
        "A",
        "p1",
    )
    html = response.content.decode()
    assert f'data-key="nclassifications" data-count="{a["numclassifications"]}"' in html
    assert 'id="as-of"' in html


@pytest.mark.django_db
def test_classifier_pages(client, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(admin_user)
    listing = client.get("/elasticc/metrics/")
    assert listing.status_code == 200
    assert f'href="/elasticc/metrics/{fixture_ids["A"]}/"' in listing.content.decode()
    with django_assert_max_num_queries(14):
        response = client.get(f"/elasticc/metrics/{fixture_ids['A']}/?mode=best&level=category&norm=pred&period=week")
    assert response.status_code == 200
    charts = response.context["charts"]
    assert charts["confusion"]["counts"] == [[2, 0], [0, 1]]
    assert charts["completeness"][0]["sent"] == 7
    html = response.content.decode()
    assert 'id="metrics-data"' in html
    assert "vendor/plotly/plotly.min.js" in html
    assert '<option value="best" selected>' in html
    # Every chart links to its data.
    a = fixture_ids["A"]
    for name in ("confusion", "delays", "completeness", "trueprob"):
        assert f'href="/elasticc/metricsdata/{a}/{name}/?' in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_classifier_page_rejects_bad_parameters(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    a = fixture_ids["A"]
    assert client.get(f"/elasticc/metrics/{a}/?level=species").status_code == 400
    bad_window = client.get(f"/elasticc/metrics/{a}/?start=2026-02-01&end=2026-01-01")
    assert bad_window.status_code == 400
    assert "start is after its end" in bad_window.content.decode()
    assert client.get("/elasticc/metrics/999999/").status_code == 404


@pytest.mark.django_db
def test_object_page_truth_only_for_admins(client, plain_user, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    # a fixed number whatever the object's size: the follow-up section adds five (its
    # requests, plans and reports, the ELAsTiCC2 class names, its TOM target)
    with django_assert_max_num_queries(17):
        response = client.get("/elasticc/object/1001/")
    assert response.status_code == 200
    charts = response.context["charts"]
    assert len(charts["lightcurve"]["sources"]) == 3
    assert len(charts["lightcurve"]["forced"]) == 5
    assert response.context["n_classifications"] == 4 + 1  # A: two messages of two classes; B: one
    assert [h["classifierid"] for h in charts["history"]] == sorted(fixture_ids.values())
    assert charts["trueclassid"] is None
    html = response.content.decode()
    assert 'id="truth"' not in html
    assert "not sent" in html  # alert 10012
    client.force_login(admin_user)
    admin_page = client.get("/elasticc/object/1001/")
    assert admin_page.context["charts"]["trueclassid"] == 111
    assert 'id="truth"' in admin_page.content.decode()
    assert client.get("/elasticc/object/424242/").status_code == 404


@pytest.mark.django_db
def test_object_search_by_id_and_cone(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    found = client.get("/elasticc/object/?diaobjectid=1002")
    assert found.status_code == 302
    assert found["Location"] == "/elasticc/object/1002/"
    assert client.get("/elasticc/object/?diaobjectid=77").status_code == 404
    # Objects sit at RA 10.01, 10.02, 10.03, 10.04 and Dec -30: neighbours are 0.01 deg * cos 30 = 31" apart.
    cone = client.get("/elasticc/object/?ra=10.02&dec=-30&radius=20")
    assert cone.status_code == 200
    assert [m["diaobjectid"] for m in cone.context["matches"]] == [1002]
    wide = client.get("/elasticc/object/?ra=10.025&dec=-30&radius=200")
    assert sorted(m["diaobjectid"] for m in wide.context["matches"]) == [1001, 1002, 1003, 1004]
    assert client.get("/elasticc/object/?ra=10").status_code == 400
    assert client.get("/elasticc/object/?ra=400&dec=0").status_code == 400
