"""How many user queries run at once: per user, per site, per web process.

Why here and not in PostgreSQL's `pg_stat_activity`: that view is what the
user's own SQL can influence (`set_config('application_name', ...)` moved a
query out of the count, or into a victim's). The slots live in a table of the
Django database that the SQL roles cannot read (`db.models.SqlSlot`), taken
and released on the Django connection:

- a request takes a free slot (`FOR UPDATE SKIP LOCKED`) after locking its
  user's `auth_user` row, so two requests of one user cannot both see "3
  running" and both start the 5th; the lock is on a row the SQL roles cannot
  read, so no user query can hold it;
- a slot whose holder died (a killed web worker) is freed once its backend
  pid is gone from `pg_stat_activity`, or after the request timeout plus a
  minute when it never got one;
- on top of that, each web process runs at most
  `SQL_MAX_CONCURRENT_PER_PROCESS` queries (a non-blocking semaphore), so a
  process's other threads keep serving pages while slow queries run.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from db.models import SqlSlot

# (SQL_MAX_CONCURRENT_PER_PROCESS it was made for, semaphore)
_process_slots: tuple[int, threading.BoundedSemaphore] | None = None
_process_slots_lock = threading.Lock()


class SqlBusy(Exception):
    """No slot: the message says which limit and its setting."""


def _process_semaphore() -> threading.BoundedSemaphore:
    global _process_slots
    size = max(1, settings.SQL_MAX_CONCURRENT_PER_PROCESS)
    with _process_slots_lock:
        if _process_slots is None or _process_slots[0] != size:
            _process_slots = (size, threading.BoundedSemaphore(size))
        return _process_slots[1]


@dataclass
class SlotLease:
    """A held slot; `release()` is idempotent."""

    slot: int
    token: uuid.UUID
    semaphore: threading.BoundedSemaphore
    released: bool = False

    def attach_backend(self, pid: int) -> None:
        SqlSlot.objects.filter(slot=self.slot, token=self.token).update(backend_pid=pid)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        try:
            SqlSlot.objects.filter(slot=self.slot, token=self.token).update(
                user=None, token=None, acquired=None, backend_pid=None
            )
        finally:
            self.semaphore.release()


_FREE_DEAD_SQL = """
UPDATE db_sqlslot SET user_id = NULL, token = NULL, acquired = NULL, backend_pid = NULL
WHERE user_id IS NOT NULL AND (
    (backend_pid IS NOT NULL AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity))
    OR (backend_pid IS NULL AND acquired < %s))
"""


def acquire_slot(*, user_id: int, timeout_ms: int) -> SlotLease:
    """Take a slot for one query of `user_id`, or raise SqlBusy."""
    semaphore = _process_semaphore()
    if not semaphore.acquire(blocking=False):
        raise SqlBusy(
            f"the server is running as many SQL queries as it may (SQL_MAX_CONCURRENT_PER_PROCESS="
            f"{settings.SQL_MAX_CONCURRENT_PER_PROCESS} per web process); retry in a moment or use long queries"
        )
    try:
        slot, token = _take_slot(user_id=user_id, timeout_ms=timeout_ms)
    except BaseException:
        semaphore.release()
        raise
    return SlotLease(slot=slot, token=token, semaphore=semaphore)


def _take_slot(*, user_id: int, timeout_ms: int) -> tuple[int, uuid.UUID]:
    total, per_user = settings.SQL_MAX_CONCURRENT_TOTAL, settings.SQL_MAX_CONCURRENT_PER_USER
    token = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO db_sqlslot (slot) SELECT generate_series(1, %s) ON CONFLICT DO NOTHING", [total])
        cursor.execute(_FREE_DEAD_SQL, [timezone.now() - timedelta(milliseconds=timeout_ms, minutes=1)])
        cursor.execute("SELECT 1 FROM auth_user WHERE id = %s FOR UPDATE", [user_id])
        cursor.execute("SELECT count(*) FROM db_sqlslot WHERE user_id = %s AND slot <= %s", [user_id, total])
        running = cursor.fetchone()[0]
        if running >= per_user:
            raise SqlBusy(
                f"too many SQL queries at once: you have {running} running, at most {per_user} may run at a "
                "time (SQL_MAX_CONCURRENT_PER_USER); wait for them or use long queries"
            )
        cursor.execute(
            "UPDATE db_sqlslot SET user_id = %s, token = %s, acquired = now() WHERE slot = ("
            "  SELECT slot FROM db_sqlslot WHERE user_id IS NULL AND slot <= %s ORDER BY slot"
            "  LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot",
            [user_id, token, total],
        )
        row = cursor.fetchone()
        if row is None:
            raise SqlBusy(
                f"the server is running as many SQL queries as it may ({total}, SQL_MAX_CONCURRENT_TOTAL); "
                "retry in a moment or use long queries"
            )
    return row[0], token
