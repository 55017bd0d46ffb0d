"""Run queued long SQL queries: `--once`, `--loop` (a deployment's worker) or `--prune DAYS`.

SIGTERM/SIGINT set a stop flag: the query in flight is cancelled in
PostgreSQL and put back in the queue, then the process exits 0, so a
rolling deployment never loses or wedges a query. The work runs in a worker
thread while the main thread only waits: Python runs signal handlers in the
main thread, which must therefore never sit inside libpq for a whole query.
"""

import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from db import long_queries
from tom_desc.commands.stop_signals import stop_requested_by_signals


class Command(BaseCommand):
    help = "Execute queued long SQL queries (db app); several runners may run at once."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--once", action="store_true", help="run queued queries until the queue is empty, then exit")
        mode.add_argument("--loop", action="store_true", help="keep polling for queued queries until SIGTERM")
        mode.add_argument("--prune", type=float, metavar="DAYS", help="delete results older than DAYS, then exit")
        parser.add_argument("--poll", type=float, default=5.0, help="seconds between polls in --loop (default 5)")
        parser.add_argument(
            "--retention-days",
            type=float,
            default=None,
            help="in --loop, prune results older than this hourly (default settings.LONG_QUERY_RETENTION_DAYS)",
        )

    def handle(self, *args, **options) -> None:
        if options["prune"] is not None:
            if options["prune"] < 0:
                raise CommandError("--prune DAYS must be >= 0")
            count = long_queries.prune(days=options["prune"])
            self.stdout.write(f"pruned {count} long queries")
            return
        if options["poll"] <= 0:
            raise CommandError("--poll must be > 0")
        runner_id = long_queries.new_runner_id()
        retention = options["retention_days"]
        retention = settings.LONG_QUERY_RETENTION_DAYS if retention is None else retention
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                if options["once"]:
                    outcome["ran"] = long_queries.run_pending(runner_id=runner_id, stop=stop)
                else:
                    self._loop(runner_id=runner_id, stop=stop, poll=options["poll"], retention=retention)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                connection.close()

        if options["loop"]:
            self.stdout.write(f"runner {runner_id} polling every {options['poll']} s")
            self.stdout.flush()
        with stop_requested_by_signals() as stop:
            worker = threading.Thread(target=work, name="long-query-runner")
            worker.start()
            while worker.is_alive():
                worker.join(0.5)
        if "error" in outcome:
            raise outcome["error"]
        if options["once"]:
            self.stdout.write(f"runner {runner_id} ran {outcome['ran']} long queries")
        else:
            self.stdout.write(f"runner {runner_id} stopped")

    @staticmethod
    def _loop(*, runner_id: str, stop: threading.Event, poll: float, retention: float) -> None:
        next_prune = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_prune:
                long_queries.prune(days=retention)
                next_prune = time.monotonic() + 3600
            long_queries.run_pending(runner_id=runner_id, stop=stop)
            stop.wait(poll)
