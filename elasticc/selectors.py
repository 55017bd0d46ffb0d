"""Read-side queries of the ELAsTiCC app that views and commands share."""

from django.db import connection

# Tables whose exact row count is kept by triggers (migration 0003), with the
# label shown to users.
COUNTED_TABLES: dict[str, str] = {
    "elasticc_diaobject": "Objects",
    "elasticc_diasource": "Sources",
    "elasticc_diaforcedsource": "Forced sources",
    "elasticc_diaalert": "Alerts",
    "elasticc_brokermessage": "Broker messages",
    "elasticc_brokerclassification": "Classifications",
}
ALERTS_SENT_KEY = "elasticc_diaalert.sent"


def row_counts(keys: list[str]) -> dict[str, int]:
    """Exact counts for trigger-maintained keys, in one indexed query
    (O(number of uncompacted deltas), never a scan of the counted table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, COALESCE(SUM(delta), 0) FROM elasticc_rowcountdelta "
            "WHERE key = ANY(%s) GROUP BY key",
            [keys],
        )
        found = dict(cursor.fetchall())
    return {key: int(found.get(key, 0)) for key in keys}


def row_count(key: str) -> int:
    """Exact count of a table (or other trigger-maintained key)."""
    return row_counts([key])[key]


def table_counts() -> list[tuple[str, int]]:
    """(label, count) for the front page, including alerts sent."""
    counts = row_counts([*COUNTED_TABLES, ALERTS_SENT_KEY])
    rows = [(label, counts[table]) for table, label in COUNTED_TABLES.items()]
    rows.insert(4, ("Alerts sent", counts[ALERTS_SENT_KEY]))
    return rows
