"""Bring the metrics aggregates of the ELAsTiCC pages up to date.

Incremental by default (only broker messages stored since the last run), so
it is cheap to run from cron every few minutes; `--full` rebuilds everything,
e.g. after truth was loaded for objects that already had classifications.
"""

from django.core.management.base import BaseCommand, CommandError

from elasticc.brokers.partitions import attach_pending_partitions
from elasticc.metrics.refresh import refresh_metrics


class Command(BaseCommand):
    help = "Fold new broker messages into the metrics aggregates (incremental; --full rebuilds)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="rebuild all aggregates from scratch")
        parser.add_argument(
            "--chunk-size", type=int, default=200_000, help="broker messages per transaction (default 200000)"
        )

    def handle(self, *args, full: bool, chunk_size: int, **options) -> None:
        if chunk_size < 1:
            raise CommandError("--chunk-size must be a positive integer")
        # Classifiers still in the DEFAULT partition (see elasticc.brokers.partitions).
        attach_pending_partitions()
        result = refresh_metrics(full=full, chunk_size=chunk_size)
        if result.skipped:
            self.stdout.write("another refresh is running; nothing done")
            return
        self.stdout.write(
            f"processed {result.messages} messages ({result.classifications} classifications); "
            f"watermark brokermessageid {result.messages_upto}; as of {result.as_of:%Y-%m-%d %H:%M:%S %Z}"
        )
