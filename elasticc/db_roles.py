"""The read-only PostgreSQL roles the SQL endpoint runs user queries as.

- broker role: SELECT on `elasticc_broker*` and the taxonomy maps only;
- admin role: SELECT on every `elasticc_*` table, partition and view.
Neither can read Django's tables (`auth_*`, `django_session`, `authtoken_*`)
nor write anything: they are NOSUPERUSER/NOINHERIT with
`default_transaction_read_only`, and get no privilege but these SELECTs.

`sync_sql_roles` is idempotent. Migration 0004 runs it and so does every
`migrate` (post_migrate), so tables added later are granted at once.
"""

import logging

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from psycopg import errors, sql

logger = logging.getLogger(__name__)

BROKER_TABLES_SQL = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
      AND (c.relname LIKE 'elasticc\\_broker%%'
           OR c.relname IN ('elasticc_classid', 'elasticc_gentypeofclassid', 'elasticc_classidofgentype'))
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
    """Create (if allowed) and grant the two SQL-endpoint roles."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for role, password, tables_sql in (
            (settings.SQL_BROKER_ROLE, settings.SQL_BROKER_ROLE_PASSWORD, BROKER_TABLES_SQL),
            (settings.SQL_ADMIN_ROLE, settings.SQL_ADMIN_ROLE_PASSWORD, ADMIN_TABLES_SQL),
        ):
            if _ensure_role(cursor, role, password):
                _grant(cursor, role, tables_sql)
