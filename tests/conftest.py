"""Fixtures shared by the whole suite.

Tests run against the real services the test command starts (PostgreSQL and
the tansu Kafka broker); nothing here mocks them. A missing service is a test
failure, never a skip. Only `../shared` reference data may be absent, and
tests that need it skip with a printed reason.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.builders import PASSWORD, make_user
from tom_desc.local_services import port_open

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED_DIR = BASE_DIR.parent / "shared"
__all__ = ["PASSWORD"]


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings):
    """Tests render pages without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth keeps its login rate limits in the cache, which outlives a test:
    every test starts with the whole budget (all test clients share one IP)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only reference material; skips when this checkout has none."""
    if not (SHARED_DIR / "README.md").exists():
        pytest.skip(f"reference data not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def sample_snana_dir(shared_dir: Path) -> Path:
    return shared_dir / "elasticc" / "sample" / "snana"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = BASE_DIR / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def admin_user(db) -> User:
    """A member of elasticc_admin (sees truth, admin SQL role)."""
    return make_user("desc_admin", "elasticc_admin", staff=True)


@pytest.fixture
def broker_user(db) -> User:
    """A member of elasticc_broker (may PUT broker messages)."""
    return make_user("desc_broker", "elasticc_broker")


@pytest.fixture
def plain_user(db) -> User:
    """A logged-in user with no ELAsTiCC group."""
    return make_user("desc_user")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(api_client):
    """`client_for(user)` is an APIClient logged in (session) as `user`."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The Kafka broker of the test run; fails loudly when it is not up."""
    servers = settings.KAFKA_BOOTSTRAP_SERVERS
    host, _, port = servers.split(",")[0].rpartition(":")
    if not port_open(host, int(port)):
        pytest.fail(f"Kafka broker {servers} is not reachable: run the tests with scripts/test.sh")
    return servers


@pytest.fixture
def unique_name(request) -> str:
    """A fresh name for topics and consumer groups (tansu keeps state per run)."""
    return f"t-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")


@pytest.fixture
def subprocess_env(transactional_db) -> dict[str, str]:
    """Environment for running manage.py in a subprocess against the test DB."""
    from django.db import connection

    env = dict(os.environ)
    params = connection.settings_dict
    env.pop("DATABASE_URL", None)
    env.update(
        DB_HOST=str(params["HOST"] or "127.0.0.1"),
        DB_PORT=str(params["PORT"]),
        DB_NAME=params["NAME"],
        DB_USER=params["USER"],
        DB_PASS=params["PASSWORD"] or "",
        KAFKA_BOOTSTRAP_SERVERS=settings.KAFKA_BOOTSTRAP_SERVERS,
        DJANGO_SETTINGS_MODULE="tom_desc.settings",
    )
    return env
