"""The object page's views of its data (issue 13 item 7): flux and AB
magnitude, SNANA sentinels as dashes, truth with sensible precision, and its
alerts and classifications as CSV and JSON."""

from __future__ import annotations

import json

import pytest

from elasticc.models import DiaObject, DiaObjectTruth
from tests.elasticc.downloads import csv_rows
from tests.responses import json_body


@pytest.mark.django_db
def test_sentinels_are_dashes_and_values_rounded(client, plain_user, fixture_ids):
    DiaObject.objects.filter(pk=1001).update(
        hostgal_zspec=-9, hostgal_zphot=999, hostgal_snsep=-999, hostgal_mag_u=23.456789, mwebv=0.0123456
    )
    client.force_login(plain_user)
    response = client.get("/elasticc/object/1001/")
    host = dict(response.context["host"])
    assert host["hostgal_zspec"] is None
    assert host["hostgal_zphot"] is None
    assert host["hostgal_snsep"] is None
    assert host["hostgal_mag_u"] == pytest.approx(23.457)
    html = response.content.decode()
    assert "<tr><th>hostgal_zspec</th><td>—</td></tr>" in html
    assert ">999<" not in html
    assert "<td>0.0123</td>" in html


@pytest.mark.django_db
def test_truth_is_shown_with_sensible_precision(client, admin_user, fixture_ids):
    DiaObjectTruth.objects.filter(pk=1001).update(zcmb=0.123456789, peakmjd=60123.456789, snrmax=42.123456)
    client.force_login(admin_user)
    html = client.get("/elasticc/object/1001/").content.decode()
    assert "0.1235" in html
    assert "60123.46" in html
    assert "42.1" in html
    assert "0.123456789" not in html


@pytest.mark.django_db
def test_flux_and_magnitude_controls(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    html = client.get("/elasticc/object/1001/").content.decode()
    assert 'id="lc-flux"' in html
    assert 'id="lc-mag"' in html
    assert "31.4" in html


@pytest.mark.django_db
def test_alerts_and_classifications_as_csv_and_json(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    html = client.get("/elasticc/object/1001/").content.decode()
    for url in (
        "/elasticc/metricsdata/object/1001/alerts/?format=csv",
        "/elasticc/metricsdata/object/1001/classifications/?format=csv",
        "/elasticc/diaalert/?diaObjectId=1001",
        "/elasticc/brokermessage/?diaObjectId=1001",
    ):
        assert f'href="{url}"' in html, url
    alerts = json_body(client.get("/elasticc/metricsdata/object/1001/alerts/"))
    page_alerts = client.get("/elasticc/object/1001/").context["alerts"]
    assert [a["alertid"] for a in alerts] == [a["alertid"] for a in page_alerts]
    response = client.get("/elasticc/metricsdata/object/1001/classifications/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = csv_rows(response)
    assert len(rows) == 5
    assert set(rows[0]) >= {"classifierid", "alertid", "classid", "probability"}
    assert client.get("/elasticc/metricsdata/object/424242/alerts/").status_code == 404
    # The REST links answer this object's rows.
    messages = json.loads(client.get("/elasticc/brokermessage/?diaObjectId=1001").content)
    assert messages["results"]


@pytest.mark.django_db
def test_object_data_needs_login(client, fixture_ids):
    assert client.get("/elasticc/metricsdata/object/1001/alerts/").status_code == 403
