"""Per-user SQL roles: created once, by whichever process asks first."""

from __future__ import annotations

import threading
import uuid

import pytest
from psycopg import sql

from elasticc.access.sql_roles import _create_user_role, _user_role_password
from elasticc.postgres.connections import connect

pytestmark = pytest.mark.django_db


def test_many_processes_creating_one_role_at_once_all_succeed(settings):
    """Regression: two long-query runners creating a user's role at the same
    moment collided on the role catalog and failed the user's query."""
    role = f"{settings.SQL_BROKER_ROLE}_utest{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        try:
            _create_user_role(role, _user_role_password(role))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        with connect(autocommit=True) as conn:
            settings_of_role = conn.execute(
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = %s",
                [role],
            ).fetchall()
    finally:
        with connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    assert not [e for e in errors if "concurrently updated" not in str(e)], errors
    assert settings_of_role == [(["default_transaction_read_only=on"],)]
