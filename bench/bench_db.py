"""The database a benchmark runs in: its own, created and migrated on first use,
so a benchmark never touches the development data or a test database."""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def setup_django(db_name: str) -> None:
    """Point Django at database `db_name` (created if missing), set it up and migrate."""
    os.environ["DB_NAME"] = db_name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tom_desc.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(BASE_DIR))
    import psycopg

    from tom_desc.local_services import pg_port

    with psycopg.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", pg_port())),
        user=os.environ.get("DB_USER", "postgres"),
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db_name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
