"""The long-query queue: submit, claim, run, heartbeat, recover, prune.

Several runners may work at once: `claim_next` takes the oldest queued row
with `SELECT ... FOR UPDATE SKIP LOCKED`, so two runners never take the same
query and none waits on another's lock. While a query runs, a heartbeat
thread refreshes `heartbeat`; a runner that dies stops refreshing it and
`recover_stale` (run by every runner before it claims work) puts the query
back in the queue, or fails it with a reason once it has used its attempts —
nothing stays "started" forever. Queries run through `db.sql_runner` with the
same role rules as the HTTP endpoint, with the long-query timeout and no row
cap; results stream into a CSV or Parquet file under settings.LONG_QUERY_DIR.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from db.models import LongQuery
from db.result_formats import write_csv, write_parquet, write_pickled_dataframe
from db.sql_runner import (
    SqlLimits,
    SqlQueryError,
    SqlQueryInterrupted,
    SqlRequest,
    SqlStream,
    check_statements,
    start_sql,
)

logger = logging.getLogger("db.long_queries")

HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 2
BATCH_ROWS = 50_000
RESULT_WRITERS = {
    LongQuery.Format.CSV: write_csv,
    LongQuery.Format.PARQUET: write_parquet,
    LongQuery.Format.PANDAS: write_pickled_dataframe,
}


def long_query_limits() -> SqlLimits:
    """A long query: LONG_QUERY_TIMEOUT_MS and LONG_QUERY_MAX_ROWS (results go
    to a file), bigger batches, and no per-user concurrency slot (the runners
    are the concurrency limit)."""
    return SqlLimits(
        timeout_ms=settings.LONG_QUERY_TIMEOUT_MS,
        timeout_setting="LONG_QUERY_TIMEOUT_MS",
        max_rows=settings.LONG_QUERY_MAX_ROWS,
        max_rows_setting="LONG_QUERY_MAX_ROWS",
        batch_rows=BATCH_ROWS,
        application="desc_longsql",
        limit_concurrency=False,
    )


def new_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def submit_long_query(*, user, request: SqlRequest, fmt: str) -> LongQuery:
    """Queue a validated request for a runner; its statements are checked
    now (SET, transaction control, ...), so a refused one is never queued."""
    if fmt == "numpy":
        raise SqlQueryError("format numpy is not supported (the original never implemented it); use parquet or csv")
    if fmt not in LongQuery.Format.values:
        raise SqlQueryError(f"format must be one of {', '.join(LongQuery.Format.values)}")
    check_statements(user=user, request=request)
    limit = settings.LONG_QUERY_MAX_PENDING_PER_USER
    with transaction.atomic():
        # Serialises one user's submissions on a row the SQL roles cannot read.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        pending = LongQuery.objects.filter(
            user=user, status__in=[LongQuery.Status.QUEUED, LongQuery.Status.STARTED]
        ).count()
        if pending >= limit:
            raise SqlQueryError(
                f"you have {pending} long queries queued or running, at most {limit} may wait at a time "
                "(LONG_QUERY_MAX_PENDING_PER_USER); wait for them to finish"
            )
        return LongQuery.objects.create(
            user=user, query=list(request.queries), subdict=list(request.subdicts), format=fmt
        )


def query_status(*, query: LongQuery) -> dict[str, str]:
    """The checksqlquery answer; times are ISO and absent until known."""
    answer = {"queryid": str(query.id), "status": query.status, "format": query.format}
    for name in ("submitted", "started", "finished"):
        value = getattr(query, name)
        if value is not None:
            answer[name] = value.isoformat()
    if query.error:
        answer["error"] = query.error
    if query.rows is not None:
        answer["rows"] = query.rows
    return answer


def claim_next(*, runner_id: str) -> LongQuery | None:
    """Take the next queued query (row lock, SKIP LOCKED) and mark it started.

    Fair between users: the oldest query of the user with the fewest queries
    running goes first, so 100 submissions of one user do not hold back
    another's single query until they are all done."""
    running = (
        LongQuery.objects.filter(user=OuterRef("user"), status=LongQuery.Status.STARTED)
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    with transaction.atomic():
        query = (
            LongQuery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LongQuery.Status.QUEUED)
            .annotate(busy=Coalesce(Subquery(running), 0))
            .order_by("busy", "submitted")
            .first()
        )
        if query is None:
            return None
        now = timezone.now()
        query.status = LongQuery.Status.STARTED
        query.started = now
        query.heartbeat = now
        query.runner_id = runner_id
        query.attempts += 1
        query.error = None
        query.save(update_fields=["status", "started", "heartbeat", "runner_id", "attempts", "error"])
    return query


def recover_stale(*, stale_after: timedelta = STALE_AFTER, max_attempts: int = MAX_ATTEMPTS) -> tuple[int, int]:
    """Re-queue queries whose runner stopped sending heartbeats, or fail them
    after `max_attempts`; returns (requeued, failed)."""
    cutoff = timezone.now() - stale_after
    stale = LongQuery.objects.filter(status=LongQuery.Status.STARTED, heartbeat__lt=cutoff)
    with transaction.atomic():
        failed = stale.filter(attempts__gte=max_attempts).update(
            status=LongQuery.Status.ERROR,
            finished=timezone.now(),
            error=Concat(
                Value("runner "),
                F("runner_id"),
                Value(f" stopped sending heartbeats (none for {int(stale_after.total_seconds())} s) on attempt "),
                Cast("attempts", TextField()),
                Value(f" of {max_attempts}; the query was not retried"),
                output_field=TextField(),
            ),
        )
        requeued = stale.filter(attempts__lt=max_attempts).update(
            status=LongQuery.Status.QUEUED, started=None, heartbeat=None, runner_id=None
        )
    if requeued or failed:
        logger.warning("stale long queries: %d re-queued, %d failed", requeued, failed)
    return requeued, failed


@dataclass
class _Heartbeat:
    """Keeps the claimed row's heartbeat fresh; cancels the run when the runner
    is asked to stop or has lost the query to `recover_stale`."""

    query_id: uuid.UUID
    runner_id: str
    stop: threading.Event
    interval: float
    stream: SqlStream | None = None

    def __post_init__(self) -> None:
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{self.query_id}", daemon=True)

    def _run(self) -> None:
        try:
            while not self.done.wait(min(self.interval, 1.0)):
                if self.stop.is_set():
                    # Repeated until the run ends: a cancel that lands between
                    # two statements cancels nothing, the flag stops the next.
                    if self.stream is not None:
                        self.stream.cancel()
                    continue
                if self._due():
                    alive = (
                        LongQuery.objects.filter(
                            pk=self.query_id, runner_id=self.runner_id, status=LongQuery.Status.STARTED
                        ).update(heartbeat=timezone.now())
                        == 1
                    )
                    if not alive and self.stream is not None:
                        logger.warning(
                            "long query %s was taken from runner %s; cancelling", self.query_id, self.runner_id
                        )
                        self.stream.cancel()
                        return
        finally:
            connection.close()

    def attach(self, stream: SqlStream) -> None:
        self.stream = stream

    def _due(self) -> bool:
        now = timezone.now().timestamp()
        last = getattr(self, "_last", 0.0)
        if now - last >= self.interval:
            self._last = now
            return True
        return False

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


def _finish(query: LongQuery, runner_id: str, **fields) -> bool:
    return (
        LongQuery.objects.filter(pk=query.pk, runner_id=runner_id, status=LongQuery.Status.STARTED).update(**fields)
        == 1
    )


def execute_claimed(*, query: LongQuery, runner_id: str, stop: threading.Event) -> LongQuery:
    """Run a claimed query to a result file and record the outcome."""
    directory = Path(settings.LONG_QUERY_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{query.id}.{query.format}"
    partial = directory / f".{query.id}.{query.format}.part"
    request = SqlRequest(queries=tuple(query.query), subdicts=tuple(query.subdict))
    with _Heartbeat(query_id=query.id, runner_id=runner_id, stop=stop, interval=HEARTBEAT_SECONDS) as heartbeat:
        try:
            stream = start_sql(
                user=query.user,
                request=request,
                limits=long_query_limits(),
                on_open=heartbeat.attach,
                # Every format is written from PostgreSQL's CSV (see write_parquet).
                csv_copy=True,
            )
            writer = RESULT_WRITERS[query.format]
            rows = writer(stream, partial, max_bytes=settings.LONG_QUERY_MAX_BYTES)
        except SqlQueryInterrupted:
            partial.unlink(missing_ok=True)
            LongQuery.objects.filter(pk=query.pk, runner_id=runner_id).update(
                status=LongQuery.Status.QUEUED, started=None, heartbeat=None, runner_id=None, attempts=F("attempts") - 1
            )
            logger.info("long query %s interrupted by shutdown; back in the queue", query.id)
        except SqlQueryError as exc:
            partial.unlink(missing_ok=True)
            _finish(query, runner_id, status=LongQuery.Status.ERROR, error=str(exc), finished=timezone.now())
            logger.info("long query %s failed: %s", query.id, exc)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            _finish(
                query, runner_id, status=LongQuery.Status.ERROR, error=f"internal error: {exc}", finished=timezone.now()
            )
            logger.exception("long query %s crashed the runner's execution", query.id)
        else:
            partial.replace(final)
            if _finish(
                query,
                runner_id,
                status=LongQuery.Status.FINISHED,
                finished=timezone.now(),
                rows=rows,
                result_path=str(final),
            ):
                logger.info("long query %s finished: %d rows in %s", query.id, rows, final)
            else:
                final.unlink(missing_ok=True)
                logger.warning("long query %s finished after it was taken from runner %s", query.id, runner_id)
    query.refresh_from_db()
    return query


def run_pending(*, runner_id: str, stop: threading.Event, limit: int | None = None) -> int:
    """Recover stale queries, then run queued ones until the queue is empty,
    `limit` queries ran, or `stop` is set; returns how many ran."""
    recover_stale()
    ran = 0
    while not stop.is_set() and (limit is None or ran < limit):
        close_old_connections()
        query = claim_next(runner_id=runner_id)
        if query is None:
            break
        execute_claimed(query=query, runner_id=runner_id, stop=stop)
        ran += 1
    return ran


def prune(*, days: float) -> int:
    """Delete finished and failed queries older than `days`, with their files."""
    cutoff = timezone.now() - timedelta(days=days)
    old = LongQuery.objects.filter(status__in=[LongQuery.Status.FINISHED, LongQuery.Status.ERROR], finished__lt=cutoff)
    paths = [path for path in old.values_list("result_path", flat=True) if path]
    count, _ = old.delete()
    for path in paths:
        Path(path).unlink(missing_ok=True)
    if count:
        logger.info("pruned %d long queries older than %s days", count, days)
    return count


def result_file(*, query: LongQuery) -> Path:
    """The result file of a finished query; SqlQueryError when there is none."""
    if query.status != LongQuery.Status.FINISHED:
        detail = f": {query.error}" if query.error else ""
        raise SqlQueryError(f"query {query.id} is {query.status}, not finished{detail}")
    path = Path(query.result_path or "")
    if not query.result_path or not path.is_file():
        raise FileNotFoundError(f"the result of query {query.id} is no longer available")
    return path
