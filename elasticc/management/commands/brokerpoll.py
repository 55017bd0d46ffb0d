"""manage.py brokerpoll: store broker classifications consumed from Kafka.

The consuming, storing and offset handling live in elasticc/brokers/kafka_consumer.py
and the source file format in elasticc/brokers/sources.py; this command
only turns options into sources and signals into a stop.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, SCHEMA_VERSIONS
from elasticc.brokers.kafka_consumer import PollOptions, poll_sources
from elasticc.brokers.partitions import attach_pending_partitions
from elasticc.brokers.sources import BrokerpollConfigError, load_sources, make_source
from elasticc.metrics.refresh import refresh_metrics
from tom_desc.commands.stop_signals import stop_requested_by_signals


def keep_pages_current() -> None:
    """Fold what was stored since the last call into the metrics aggregates
    (which also compacts the row-count deltas), so the pages follow the
    alert cycle without a separate cron job; first give classifiers whose
    partition could not be created at registration (a reader was in the
    way) their own."""
    attach_pending_partitions()
    refresh_metrics()


class Command(BaseCommand):
    help = (
        "Consume brokerClassification messages from every source in BROKERPOLL_CONFIG (or --config) "
        "plus an optional ad hoc source (--topic ...), storing each message exactly once. "
        "brokerName, brokerVersion and classifierName may have at most 128 characters, classifierParams 256; "
        "a message breaking a rule, or one the database refuses, is logged with topic[partition]@offset, "
        "counted as bad and skipped. A source's taxonomy (config file) is given to the classifiers it registers; "
        "one registered before keeps its own (set_classifier_taxonomy changes it)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--config",
            default=None,
            help="YAML/JSON file of sources (default: settings.BROKERPOLL_CONFIG; '' for none)",
        )
        parser.add_argument(
            "--server", default=None, help="ad hoc source: bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)"
        )
        parser.add_argument("--topic", action="append", default=[], help="ad hoc source: topic or ^regex (repeatable)")
        parser.add_argument(
            "--schema", default=DEFAULT_SCHEMA_VERSION, choices=SCHEMA_VERSIONS, help="ad hoc source: schema"
        )
        parser.add_argument("--group", default="desc-tom-brokerpoll", help="ad hoc source: consumer group id")
        parser.add_argument("--name", default="cmdline", help="ad hoc source: name in logs")
        parser.add_argument(
            "--reset", action="store_true", help="start from the earliest offsets on first assignment (this run)"
        )
        parser.add_argument(
            "--batch-size", type=int, default=PollOptions.batch_size, help="messages per transaction (max)"
        )
        parser.add_argument("--batch-timeout", type=float, default=1.0, help="seconds to wait to fill a batch")
        parser.add_argument(
            "--max-idle", type=float, default=None, help="exit once every source has had no messages this long"
        )
        parser.add_argument("--until-idle", action="store_true", help="same as --max-idle 10")
        parser.add_argument("--report-every", type=float, default=60.0, help="seconds between count logs")
        parser.add_argument("--session-timeout-ms", type=int, default=10000, help="consumer session.timeout.ms")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sources = self._sources(options)
        except BrokerpollConfigError as exc:
            raise CommandError(str(exc)) from None
        if not sources:
            raise CommandError("no sources: set BROKERPOLL_CONFIG, pass --config, or give --topic")
        if options["batch_size"] < 1 or options["batch_timeout"] <= 0:
            raise CommandError("--batch-size must be >= 1 and --batch-timeout > 0")
        max_idle = 10.0 if options["until_idle"] and options["max_idle"] is None else options["max_idle"]
        poll_options = PollOptions(
            batch_size=options["batch_size"],
            batch_timeout=options["batch_timeout"],
            reset=options["reset"],
            max_idle=max_idle,
            report_every=options["report_every"],
            session_timeout_ms=options["session_timeout_ms"],
        )
        with stop_requested_by_signals() as stop:
            counts = poll_sources(sources=sources, options=poll_options, stop=stop, housekeeping=keep_pages_current)
        for source, c in zip(sources, counts, strict=True):
            self.stdout.write(
                f"{source.name}: {c.messages} messages ({c.loaded} new), {c.classifications} classifications, "
                f"{c.bad} bad"
            )

    def _sources(self, options: dict[str, Any]) -> list:
        config = settings.BROKERPOLL_CONFIG if options["config"] is None else options["config"]
        sources = load_sources(config) if config else []
        if options["topic"]:
            sources.append(
                make_source(
                    name=options["name"],
                    servers=options["server"] or settings.KAFKA_BOOTSTRAP_SERVERS,
                    topics=options["topic"],
                    schema=options["schema"],
                    group=options["group"],
                )
            )
            if len({s.name for s in sources}) != len(sources):
                raise BrokerpollConfigError(f"source name {options['name']!r} is already in the config; pass --name")
        return sources
