"""The database a benchmark runs in: its own, created and migrated on first use,
so a benchmark never touches the development data or a test database."""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _server_connection():
    """An autocommit connection to the server's `postgres` database (for
    creating and dropping databases), from the same variables as Django."""
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import psycopg

    from tom_desc.local_services import pg_port

    return psycopg.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", pg_port())),
        user=os.environ.get("DB_USER", "postgres"),
        password=os.environ.get("DB_PASS") or None,
        dbname="postgres",
        autocommit=True,
    )


def ensure_database(db_name: str) -> None:
    """Create database `db_name` if it does not exist."""
    from psycopg import sql

    with _server_connection() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))


def drop_database(db_name: str) -> None:
    """Drop database `db_name` if it exists, closing its connections."""
    from psycopg import sql

    with _server_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))


def setup_django(db_name: str) -> None:
    """Point Django at database `db_name` (created if missing), set it up and migrate."""
    os.environ["DB_NAME"] = db_name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tom_desc.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    ensure_database(db_name)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
