"""The read-only PostgreSQL roles the SQL endpoint runs user queries as.

- broker role: SELECT on `elasticc_broker*`, the taxonomy maps and the
  follow-up tables (wanted, planned and reported spectra: people's
  decisions, no simulation truth) only;
- admin role: SELECT on every `elasticc_*` table, partition and view.
Neither can read Django's tables (`auth_*`, `django_session`, `authtoken_*`)
nor write anything: they are NOSUPERUSER/NOINHERIT with
`default_transaction_read_only`, and get no privilege but these SELECTs.

`sync_sql_roles` is idempotent. Migration 0004 runs it and so does every
`migrate` (post_migrate), so tables added later are granted at once.

Non-admin users do not log in as the broker role itself but as a role of
their own (`user_sql_role`), created on first use as an INHERIT member of
it: the SELECT grants flow down, while PostgreSQL shows a session's query
text, and lets `pg_cancel_backend`/`pg_terminate_backend` signal it, only to
members of the role that owns the session, so users can neither read nor
kill each other's queries. Its password is derived from the Django secret
key, so no table holds it.
"""

import hashlib
import hmac
import logging
import threading
import time

from django.conf import settings
from django.db import InternalError as DjangoInternalError
from django.db import connection as default_connection
from django.db import transaction
from psycopg import errors, sql

from elasticc.postgres.connections import connect

logger = logging.getLogger(__name__)

BROKER_TABLES_SQL = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
      AND (c.relname LIKE 'elasticc\\_broker%%'
           OR c.relname IN ('elasticc_classid', 'elasticc_gentypeofclassid', 'elasticc_classidofgentype',
                            'elasticc_wantedspectrum', 'elasticc_plannedspectrum', 'elasticc_spectruminfo'))
"""
ADMIN_TABLES_SQL = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
      AND c.relname LIKE 'elasticc\\_%%'
"""


def _ensure_role(cursor, role: str, password: str | None) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone() is None:
        try:
            cursor.execute("SAVEPOINT desc_role")
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)).as_string(cursor.connection))
            cursor.execute("RELEASE SAVEPOINT desc_role")
        except errors.InsufficientPrivilege:
            cursor.execute("ROLLBACK TO SAVEPOINT desc_role")
            logger.warning("cannot create PostgreSQL role %s (no CREATEROLE); create it as a DBA", role)
            return False
    statements = [
        sql.SQL(
            "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION PASSWORD {}"
        ).format(sql.Identifier(role), sql.Literal(password)),
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(role)),
    ]
    try:
        cursor.execute("SAVEPOINT desc_role")
        for statement in statements:
            cursor.execute(statement.as_string(cursor.connection))
        cursor.execute("RELEASE SAVEPOINT desc_role")
    except errors.InsufficientPrivilege:
        cursor.execute("ROLLBACK TO SAVEPOINT desc_role")
        logger.warning("cannot alter PostgreSQL role %s; leaving its attributes as they are", role)
    return True


def _grant(cursor, role: str, tables_sql: str) -> None:
    conn = cursor.connection
    cursor.execute(
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}")
        .format(sql.Identifier("public"), sql.Identifier(role))
        .as_string(conn)
    )
    cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)).as_string(conn))
    cursor.execute(tables_sql)
    tables = [row[0] for row in cursor.fetchall()]
    if tables:
        cursor.execute(
            sql.SQL("GRANT SELECT ON {} TO {}")
            .format(sql.SQL(", ").join(map(sql.Identifier, tables)), sql.Identifier(role))
            .as_string(conn)
        )


def sync_sql_roles(connection=default_connection) -> None:
    """Create (if allowed) and grant the two SQL-endpoint roles.

    Roles live in the cluster, not the database: two databases of one cluster
    migrating at once (parallel test runs) can collide on a role's catalog
    row ("tuple concurrently updated"), so a collision is retried."""
    for attempt in range(5):
        try:
            _sync_sql_roles(connection)
            return
        except DjangoInternalError as exc:
            if "concurrently updated" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _sync_sql_roles(connection) -> None:
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for role, password, tables_sql in (
            (settings.SQL_BROKER_ROLE, settings.SQL_BROKER_ROLE_PASSWORD, BROKER_TABLES_SQL),
            (settings.SQL_ADMIN_ROLE, settings.SQL_ADMIN_ROLE_PASSWORD, ADMIN_TABLES_SQL),
        ):
            if _ensure_role(cursor, role, password):
                _grant(cursor, role, tables_sql)


_known_user_roles: set[str] = set()
_user_roles_lock = threading.Lock()


def _user_role_password(role: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"sql-role:{role}".encode(), hashlib.sha256).hexdigest()


def user_sql_role(*, user_id: int) -> tuple[str, str]:
    """(role, password) of a non-admin user's own SQL login role, created on
    first use. It is created on a connection of its own, so the role exists
    for the user's query connection whatever transaction the caller is in;
    that needs CREATEROLE. Raises PermissionError when the role cannot be
    created.

    Several processes may create the same role at once (two web workers, two
    long-query runners): the role and its read-only default are created in one
    transaction, a duplicate means another process made it, and PostgreSQL's
    "tuple concurrently updated" on the role catalog is retried."""
    role = f"{settings.SQL_BROKER_ROLE}_u{int(user_id)}"
    password = _user_role_password(role)
    with _user_roles_lock:
        if role in _known_user_roles:
            return role, password
        for attempt in range(5):
            try:
                _create_user_role(role, password)
                break
            except errors.InternalError:
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
        _known_user_roles.add(role)
    return role, password


def _create_user_role(role: str, password: str) -> None:
    with connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None:
            return
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                        "PASSWORD {} IN ROLE {}"
                    ).format(sql.Identifier(role), sql.Literal(password), sql.Identifier(settings.SQL_BROKER_ROLE))
                )
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(role))
                )
        except (errors.DuplicateObject, errors.UniqueViolation):
            return  # made by a concurrent request
        except errors.InsufficientPrivilege as exc:
            raise PermissionError(
                f"cannot create the SQL role {role}: the database user needs CREATEROLE (see SECURITY.md)"
            ) from exc
