"""Classifier partitions that could not be created at registration, created later.

A classifier's partition of `elasticc_brokerclassification` is created by
the trigger that registers it, but only if the locks are free within 200 ms
(migration 0011): ingest never waits behind a user's open read of the
table. Otherwise its rows land in the DEFAULT partition, and this module
moves them into their own partition when it can, so that per-classifier
queries prune to one partition again. Each classifier is one short
transaction that gives up at once (`lock_timeout`) if a reader is in the
way; the next call tries again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

# Classifiers without a partition of their own (their rows are in DEFAULT).
_PENDING_SQL = """
SELECT c.classifierid FROM elasticc_brokerclassifier c
WHERE to_regclass('elasticc_brokerclassification_c' || c.classifierid) IS NULL
ORDER BY c.classifierid
"""
# lock_not_available; check_violation (a row of the classifier reached
# DEFAULT anyway, e.g. by a concurrent writer): both mean "later".
_TRY_AGAIN_LATER = frozenset({"55P03", "23514"})


@dataclass(frozen=True)
class AttachResult:
    attached: tuple[int, ...]
    waiting: tuple[int, ...]  # still in DEFAULT: locks were busy


def attach_pending_partitions(*, lock_timeout_ms: int = 200) -> AttachResult:
    """Give every classifier still without a partition its own, moving its
    rows out of DEFAULT; a classifier whose locks are not free within
    `lock_timeout_ms` is left for the next call. Call outside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_SQL)
        pending = [row[0] for row in cursor.fetchall()]
    attached: list[int] = []
    waiting: list[int] = []
    for classifierid in pending:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(lock_timeout_ms)}ms"])
                cursor.execute("SELECT elasticc_attach_classifier_partition(%s)", [classifierid])
        except DatabaseError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in _TRY_AGAIN_LATER:
                raise
            waiting.append(classifierid)
        else:
            attached.append(classifierid)
    return AttachResult(attached=tuple(attached), waiting=tuple(waiting))
