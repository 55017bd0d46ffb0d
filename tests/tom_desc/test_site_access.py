"""What anonymous and ordinary users reach of TOM Toolkit's own pages
(AUTH_STRATEGY = LOCKED, the staff-only user list), and that API clients
still get DRF's JSON answers under /elasticc/, /db/ and /api/."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db

# TOM Toolkit pages an anonymous user reached (some with a 500).
TOM_PAGES = ["/", "/targets/", "/targets/1/", "/users/1/update/", "/tom_dataservices/query/run/", "/users/"]


@pytest.mark.parametrize("url", TOM_PAGES)
def test_anonymous_tom_pages_go_to_login(url):
    client = Client(raise_request_exception=False)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, response.status_code)
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ["/elasticc/diaobject/", "/elasticc/brokermessage/", "/elasticc/classifiers/"])
def test_anonymous_api_clients_still_get_json_403(url):
    response = Client().get(url)
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_anonymous_schema_is_refused_by_drf_not_redirected():
    assert Client().get("/api/schema/").status_code in (401, 403)


def test_login_page_is_open():
    assert Client().get("/accounts/login/").status_code == 200


def test_token_and_basic_clients_reach_the_api(plain_user):
    token, _ = Token.objects.get_or_create(user=plain_user)
    client = Client()
    assert client.get("/elasticc/diaobject/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    basic = base64.b64encode(f"{plain_user.username}:{PASSWORD}".encode()).decode()
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200


def test_user_list_is_for_staff_only(client, plain_user, broker_user, admin_user):
    for user in (plain_user, broker_user):
        client.force_login(user)
        response = client.get("/users/")
        assert response.status_code in (302, 403)
        assert admin_user.username not in response.content.decode()
    client.force_login(admin_user)  # staff
    response = client.get("/users/")
    assert response.status_code == 200
    assert broker_user.username in response.content.decode()


def test_logged_in_users_still_reach_tom_pages(client, plain_user):
    client.force_login(plain_user)
    assert client.get("/targets/").status_code == 200
