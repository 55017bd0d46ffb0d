"""The long-query queue: queries too long for one HTTP request.

A runner (`manage.py long_query_runner`) claims a queued row with
`SELECT ... FOR UPDATE SKIP LOCKED`, marks it started and keeps `heartbeat`
fresh while it works; a row whose heartbeat goes stale (its runner was killed)
is re-queued or failed with a reason by the next runner, so nothing stays
"started" forever. See db/long_queries.py.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class LongQuery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        STARTED = "started"
        FINISHED = "finished"
        ERROR = "error"

    class Format(models.TextChoices):
        CSV = "csv"
        PARQUET = "parquet"
        # The original TOM's format: a pickled pandas DataFrame (pandas.read_pickle).
        PANDAS = "pandas"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="long_queries")
    query = models.JSONField(help_text="List of SQL strings, run in order in one transaction.")
    subdict = models.JSONField(help_text="List of parameter dicts, one per query.")
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.CSV)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    submitted = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    result_path = models.TextField(null=True, blank=True, help_text="Result file, under settings.LONG_QUERY_DIR.")
    rows = models.BigIntegerField(null=True, blank=True)
    runner_id = models.TextField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "db_longquery"
        indexes = [
            models.Index(fields=["status", "submitted"], name="db_longquery_queue"),
            models.Index(fields=["user", "submitted"], name="db_longquery_user"),
            models.Index(fields=["finished"], name="db_longquery_finished"),
        ]

    def __str__(self) -> str:
        return f"long query {self.id} ({self.status})"


class SqlSlot(models.Model):
    """One of the SQL endpoint's concurrency slots (`db.sql_slots`).

    `SQL_MAX_CONCURRENT_TOTAL` slots exist; a request holds one while its
    query runs, so the count of busy slots is the site-wide number of running
    queries and the busy slots of a user are that user's. Kept in a table the
    SQL roles cannot read, so no user query can see, fake or lock them.
    """

    slot = models.PositiveIntegerField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True)
    token = models.UUIDField(null=True, blank=True)
    acquired = models.DateTimeField(null=True, blank=True)
    backend_pid = models.IntegerField(null=True, blank=True, help_text="PostgreSQL pid of the query's connection.")

    class Meta:
        db_table = "db_sqlslot"

    def __str__(self) -> str:
        return f"SQL slot {self.slot} ({'busy' if self.user_id else 'free'})"
