"""Extra PostgreSQL connections beside Django's, to the same database.

Some work must not share the request's connection: user SQL runs logged in
as a read-only role, SQL roles are created in autocommit so that they exist
for another connection at once, and the metrics refresh holds its lock on a
connection of its own while it commits chunk after chunk on Django's.
"""

from typing import Any

import psycopg
from django.db import connections


def connect(*, user: str | None = None, password: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """A new psycopg connection to the default database, as Django's user
    unless `user` (and `password`) say otherwise; `kwargs` go to psycopg."""
    db = connections["default"].settings_dict
    params: dict[str, Any] = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "dbname": db["NAME"],
        "user": user or db.get("USER") or None,
        "connect_timeout": 10,
    }
    secret = password if user else db.get("PASSWORD")
    if secret:
        params["password"] = secret
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        if key in db.get("OPTIONS", {}):
            params[key] = db["OPTIONS"][key]
    return psycopg.connect(**params, **kwargs)
