"""API authentication (session + CSRF, token, Basic), trailing slashes and
the OpenAPI schema/docs pages."""

from __future__ import annotations

import base64

import pytest
import requests
from django.test import Client

from tests.builders import PASSWORD
from tests.responses import cdn_urls

URL = "/elasticc/brokermessage/"
MESSAGE = {
    "alertId": 1,
    "diaSourceId": 1,
    "elasticcPublishTimestamp": 1_700_000_000_000,
    "brokerIngestTimestamp": None,
    "brokerName": "FakeBroker",
    "brokerVersion": "v1.0",
    "classifierName": "NugentClassifier",
    "classifierParams": "100%",
    "classifications": [{"classId": 111, "probability": 1.0}],
}


@pytest.mark.django_db(transaction=True)
def test_the_seed_requests_snippet_against_a_live_server(live_server, broker_user):
    """The classic `requests` login sequence, verbatim apart from URL and credentials."""
    url = live_server.url
    rqs = requests.session()
    rqs.get(f"{url}/accounts/login/")
    res = rqs.post(
        f"{url}/accounts/login/",
        data={"username": broker_user.username, "password": PASSWORD, "csrfmiddlewaretoken": rqs.cookies["csrftoken"]},
    )
    assert res.status_code == 200
    assert "Please enter a correct" not in res.text
    res = rqs.get(f"{url}/elasticc/diaobject/", headers={"X-CSRFTokien": rqs.cookies["csrftoken"]})
    assert res.status_code == 200
    assert res.json()["count"] == 0
    res = rqs.put(f"{url}{URL}", json=MESSAGE, headers={"X-CSRFToken": rqs.cookies["csrftoken"]})
    assert res.status_code == 201, res.text
    assert res.json()["num_loaded"] == 1
    res = rqs.post(f"{url}/elasticc/brokermessage", json=MESSAGE, headers={"X-CSRFToken": rqs.cookies["csrftoken"]})
    assert res.status_code == 400
    assert "/elasticc/brokermessage/" in res.json()["error"]
    rqs.close()


@pytest.mark.django_db
def test_session_put_needs_the_csrf_header(broker_user):
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    client.post(
        "/accounts/login/",
        {
            "username": broker_user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    without = client.put(URL, MESSAGE, content_type="application/json")
    assert without.status_code == 403
    assert "CSRF" in without.json()["error"]
    with_header = client.put(
        URL, MESSAGE, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )
    assert with_header.status_code == 201


@pytest.mark.django_db
def test_token_from_token_auth_endpoint(broker_user):
    anonymous = Client()
    response = anonymous.post("/api/token-auth/", {"username": broker_user.username, "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    client = Client(enforce_csrf_checks=True)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.get("/elasticc/diaobject/", **auth).status_code == 200
    assert client.put(URL, MESSAGE, content_type="application/json", **auth).status_code == 201
    bad = client.get("/elasticc/diaobject/", HTTP_AUTHORIZATION="Token nope")
    assert bad.status_code in (401, 403)
    assert "error" in bad.json()
    wrong = anonymous.post("/api/token-auth/", {"username": broker_user.username, "password": "wrong"})
    assert wrong.status_code == 400


@pytest.mark.django_db
def test_basic_auth(broker_user):
    client = Client(enforce_csrf_checks=True)
    good = base64.b64encode(f"{broker_user.username}:{PASSWORD}".encode()).decode()
    bad = base64.b64encode(f"{broker_user.username}:wrong".encode()).decode()
    assert client.get("/elasticc/diaobject/", HTTP_AUTHORIZATION=f"Basic {good}").status_code == 200
    assert (
        client.put(URL, MESSAGE, content_type="application/json", HTTP_AUTHORIZATION=f"Basic {good}").status_code == 201
    )
    assert client.get("/elasticc/diaobject/", HTTP_AUTHORIZATION=f"Basic {bad}").status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_missing_trailing_slash(settings, client_for, broker_user, debug):
    settings.DEBUG = debug
    client = client_for(broker_user)
    for method in ("post", "put"):
        response = getattr(client, method)("/elasticc/brokermessage", MESSAGE, format="json")
        assert response.status_code == 400
        assert "end with '/'" in response.json()["error"]
    response = client.get("/elasticc/diaobject?limit=5")
    assert response.status_code == 301
    assert response["Location"] == "/elasticc/diaobject/?limit=5"
    assert client.get("/elasticc/diaobject/12").status_code == 301
    assert client.get("/elasticc/nothing-here").status_code == 404
    assert client.post("/elasticc/nothing-here", {}).status_code == 404


@pytest.mark.django_db
def test_openapi_schema_lists_every_endpoint(client_for, plain_user, api_client):
    assert api_client.get("/api/schema/").status_code in (401, 403)
    response = client_for(plain_user).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for endpoint in (
        "diaobject",
        "diasource",
        "diaforcedsource",
        "diaalert",
        "diatruth",
        "diaobjecttruth",
        "brokermessage",
    ):
        assert f"/elasticc/{endpoint}/" in paths
        assert f"/elasticc/{endpoint}/{{id}}/" in paths
    assert {"get", "put", "post"} <= set(paths["/elasticc/brokermessage/"])
    assert "/elasticc/classids/" in paths
    assert "/elasticc/classifiers/" in paths
    assert "/api/token-auth/" in paths
    assert "post" in paths["/accounts/login/"]
    assert not [p for p in paths if p.startswith("/targets")]
    params = {p["name"] for p in paths["/elasticc/diaobject/"]["get"]["parameters"]}
    assert {"limit", "after", "before", "offset", "diaObjectId", "ra", "dec", "radius"} <= params


@pytest.mark.django_db
def test_docs_page_needs_login_and_serves_local_assets(client, plain_user):
    anonymous = client.get("/api/docs/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    client.force_login(plain_user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert cdn_urls(html) == []
    # Swagger UI's start-up script is served apart (no inline script under the CSP).
    assert '<script src="/api/docs/?script=">' in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


@pytest.mark.django_db
def test_browsable_api_pages(client, plain_user):
    client.force_login(plain_user)
    page = client.get("/elasticc/diaobject/?limit=2", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    truth = client.get("/elasticc/diatruth/", HTTP_ACCEPT="text/html")
    assert truth.status_code == 302  # HTML pages send users without permission to the login page
    assert truth["Location"].startswith("/accounts/login/")
    assert client.get("/elasticc/diatruth/").status_code == 403
