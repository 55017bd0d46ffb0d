"""Counting, in one place: no page or list ever runs COUNT(*) over a big table.

- Exact row counts come from the statement-level triggers of migration 0003,
  which append deltas to `elasticc_rowcountdelta`; `row_counts` sums the
  deltas of the asked keys in one indexed query (O(uncompacted deltas)).
  Keys are table names, `elasticc_diaalert.sent` and
  `elasticc_brokerclassification.<classifierid>`.
- A list's `count` (`list_total`): unfiltered, the counter; filtered, exact
  up to `EXACT_COUNT_CAP` rows (a LIMITed sub-select, so its cost is
  bounded), beyond that PostgreSQL's planner estimate, marked as such.
"""

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from elasticc.models import TABLE_LABELS

ALERTS_SENT_KEY = "elasticc_diaalert.sent"
# A filtered list is counted exactly while it has at most this many rows.
EXACT_COUNT_CAP = 2000
# The tables of the front page and summary, in display order.
SUMMARY_TABLES: tuple[str, ...] = (
    "elasticc_diaobject",
    "elasticc_diasource",
    "elasticc_diaforcedsource",
    "elasticc_diaalert",
    "elasticc_brokermessage",
    "elasticc_brokerclassification",
)


def classifications_key(classifierid: int) -> str:
    """The counter key of one classifier's classifications."""
    return f"elasticc_brokerclassification.{classifierid}"


def row_counts(keys: list[str]) -> dict[str, int]:
    """Exact counts of trigger-maintained keys, in one indexed query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, COALESCE(SUM(delta), 0) FROM elasticc_rowcountdelta WHERE key = ANY(%s) GROUP BY key",
            [keys],
        )
        found = dict(cursor.fetchall())
    return {key: int(found.get(key, 0)) for key in keys}


def row_count(key: str) -> int:
    """Exact count of one table (or other trigger-maintained key)."""
    return row_counts([key])[key]


def table_counts() -> list[tuple[str, int]]:
    """(label, count) for the front page, alerts sent after alerts."""
    counts = row_counts([*SUMMARY_TABLES, ALERTS_SENT_KEY])
    rows = [(TABLE_LABELS[table].capitalize(), counts[table]) for table in SUMMARY_TABLES]
    rows.insert(SUMMARY_TABLES.index("elasticc_diaalert") + 1, ("Alerts sent", counts[ALERTS_SENT_KEY]))
    return rows


@dataclass(frozen=True)
class ListCount:
    """The `count` of a list response; `is_estimate` marks planner estimates."""

    value: int
    is_estimate: bool


def _planner_estimate(queryset: QuerySet) -> int:
    """PostgreSQL's row estimate for `queryset` (EXPLAIN only plans, never runs it)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def list_total(
    *, queryset: QuerySet | None = None, key: str | None = None, minus_key: str | None = None, cap: int | None = None
) -> ListCount:
    """The total of a list at bounded cost.

    With `key` (and optionally `minus_key`): the exact trigger counter(s),
    O(1) in the table size (`key` minus `minus_key`, e.g. alerts not sent).
    With a filtered `queryset`: exact up to `cap` rows (default
    `EXACT_COUNT_CAP`), else the planner's estimate (never less than
    `cap` + 1), marked as such.
    """
    if key is not None:
        counts = row_counts([key, minus_key] if minus_key else [key])
        return ListCount(value=counts[key] - (counts[minus_key] if minus_key else 0), is_estimate=False)
    if queryset is None:
        raise ValueError("list_total needs a counter key or a queryset")
    cap = EXACT_COUNT_CAP if cap is None else cap
    exact = queryset.order_by().values("pk")[: cap + 1].count()
    if exact <= cap:
        return ListCount(value=exact, is_estimate=False)
    return ListCount(value=max(_planner_estimate(queryset), cap + 1), is_estimate=True)
