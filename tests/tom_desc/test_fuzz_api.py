"""Property-based fuzzing of the API over its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ gets a few generated requests against a live
server, as an ordinary user, a broker and an admin: no answer may be a 5xx,
and every answer the schema documents must match it. Bounded (a few examples
per operation, a deadline) so it stays a CI test, not a soak test.

The SQL endpoints are fuzzed too: generated SQL text is refused or run as the
caller's read-only role, and every answer must still be documented JSON.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.builders import make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROLES = {"user": (), "broker": ("elasticc_broker",), "admin": ("elasticc_admin",)}


def _project_schema() -> schemathesis.schemas.BaseSchema:
    """The schema /api/schema/ serves (generated in-process: the same
    generator and hooks). Loaded at collection: schemathesis' fixture-loaded
    schemas do not work with this pytest."""
    return schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


schema = _project_schema()


# Bounded: a few examples per operation, each request well under the deadline.
FUZZ = settings(
    max_examples=8,
    deadline=10_000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _call_as(role: str, case, base_url: str) -> None:
    """One generated request with an API token of a user in the role's groups
    (a token: no password hashing per request); no 5xx, documented answers match."""
    username = f"fuzz_{role}"
    user = User.objects.filter(username=username).first() or make_user(username, *ROLES[role])
    token = Token.objects.get_or_create(user=user)[0].key
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )


# One test per role (schemathesis' parametrisation cannot be combined with pytest's).
@schema.parametrize()
@FUZZ
def test_api_as_user(case, live_server):
    _call_as("user", case, live_server.url)


@schema.parametrize()
@FUZZ
def test_api_as_broker(case, live_server):
    _call_as("broker", case, live_server.url)


@schema.parametrize()
@FUZZ
def test_api_as_admin(case, live_server):
    _call_as("admin", case, live_server.url)
