"""Site-wide API plumbing against abuse (tom_desc/api/): the JSON parser's
depth, the brute-force limit of HTTP Basic and /api/token-auth/, and the
missing-trailing-slash answer for token clients."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db

DEEP_JSON = "[" * 100_000 + "]" * 100_000
# allauth's default `login_failed` limit: 5 failures per username per 5 minutes.
FAILURES_ALLOWED = 5


def _basic(username: str, password: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_deeply_nested_json_is_a_400(client_for, broker_user):
    response = client_for(broker_user).generic(
        "PUT", "/elasticc/brokermessage/", DEEP_JSON, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]


def test_deeply_nested_json_on_the_sql_endpoint_is_its_error(client_for, plain_user):
    """The SQL endpoint reports every error as HTTP 200 {status: error} (its own contract)."""
    response = client_for(plain_user).generic("POST", "/db/runsqlquery/", DEEP_JSON, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert "nested too deeply" in body["error"]


def test_basic_auth_is_rate_limited(broker_user):
    client = Client()
    for _ in range(FAILURES_ALLOWED):
        wrong = client.get("/elasticc/diaobject/", **_basic(broker_user.username, "wrong"))
        assert wrong.status_code in (401, 403)
    # Over the limit even the right password is refused, so guessing gains nothing.
    for password in ("wrong", PASSWORD):
        limited = client.get("/elasticc/diaobject/", **_basic(broker_user.username, password))
        assert limited.status_code == 429
        assert "error" in limited.json()


def test_basic_auth_success_does_not_use_up_the_limit(broker_user):
    client = Client()
    for _ in range(FAILURES_ALLOWED + 2):
        assert client.get("/elasticc/diaobject/", **_basic(broker_user.username, PASSWORD)).status_code == 200


def test_token_auth_endpoint_is_rate_limited(broker_user):
    client = Client()
    for _ in range(FAILURES_ALLOWED):
        wrong = client.post("/api/token-auth/", {"username": broker_user.username, "password": "wrong"})
        assert wrong.status_code == 400
    limited = client.post("/api/token-auth/", {"username": broker_user.username, "password": PASSWORD})
    assert limited.status_code == 429
    assert "error" in limited.json()


def test_form_basic_and_token_auth_share_one_budget(broker_user, plain_user):
    """Failures through the login form count against Basic too (and per username)."""
    client = Client()
    for _ in range(FAILURES_ALLOWED):
        client.post("/accounts/login/", {"username": broker_user.username, "password": "wrong"})
    assert client.get("/elasticc/diaobject/", **_basic(broker_user.username, PASSWORD)).status_code == 429
    assert client.post("/api/token-auth/", {"username": broker_user.username, "password": PASSWORD}).status_code == 429
    # Another account is not locked out by them.
    assert client.get("/elasticc/diaobject/", **_basic(plain_user.username, PASSWORD)).status_code == 200


@pytest.mark.parametrize("method", ["post", "put"])
def test_missing_trailing_slash_with_token_auth_is_the_400(broker_user, method):
    token, _ = Token.objects.get_or_create(user=broker_user)
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(
        "/elasticc/brokermessage", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 400
    assert "end with '/'" in response.json()["error"]


def test_missing_trailing_slash_with_basic_auth_is_the_400(broker_user):
    client = Client(enforce_csrf_checks=True)
    response = client.put(
        "/elasticc/brokermessage", "{}", content_type="application/json", **_basic(broker_user.username, PASSWORD)
    )
    assert response.status_code == 400
