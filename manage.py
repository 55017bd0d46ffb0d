#!/usr/bin/env python
"""Django's command-line utility for the DESC TOM."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tom_desc.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # Usually the services are not up: one line, not a psycopg traceback.
        from django.db import connection

        where = f"{connection.settings_dict.get('HOST') or 'localhost'}:{connection.settings_dict.get('PORT') or 5432}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.exit(
            f"cannot use the database at {where} ({first}); is it running? "
            "Start the local services with: .venv/bin/python -m tom_desc.local_services up"
        )


if __name__ == "__main__":
    main()
