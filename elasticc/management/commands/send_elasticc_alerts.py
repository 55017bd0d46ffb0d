"""`manage.py send_elasticc_alerts -d MJD | -a N [--do]`: stream alerts to Kafka.

The option names are the original DESC TOM's (`-d/--through-day`,
`-a/--added-days`, `-k/--kafka-server`, `--wfd-topic`, `--ddf-full-topic`,
`--ddf-limited-topic`, `-f/--flush-every`); `--topic` and `--ddf-topic`
remain as aliases.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from elasticc.avro.versions import SCHEMA_VERSIONS
from elasticc.stream import alert_sender
from tom_desc.commands.kafka_check import require_kafka
from tom_desc.commands.stop_signals import stop_requested_by_signals


class Command(BaseCommand):
    help = (
        "Send the unsent ELAsTiCC alerts with midPointTai up to a simulated date to Kafka, in simulated-time "
        "order, recording alertsenttimestamp for each delivery Kafka confirms. Dry run unless --do."
    )

    def add_arguments(self, parser):
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("-d", "--through-day", type=float, help="send alerts with midPointTai <= this MJD")
        when.add_argument(
            "-a",
            "--added-days",
            type=float,
            help="send N more whole nights after the last alert sent (before any: from the first alert)",
        )
        parser.add_argument(
            "-k", "--kafka-server", default=settings.KAFKA_BOOTSTRAP_SERVERS, help="default %(default)s"
        )
        parser.add_argument(
            "--wfd-topic", "--topic", dest="topic", default=settings.ALERT_TOPIC, help="default %(default)s"
        )
        parser.add_argument(
            "--ddf-full-topic",
            "--ddf-topic",
            dest="ddf_full_topic",
            default=settings.ALERT_DDF_TOPIC,
            help="deep-drilling-field alerts with the full history (default %(default)s; '' for the WFD topic)",
        )
        parser.add_argument(
            "--ddf-limited-topic",
            default=settings.ALERT_DDF_LIMITED_TOPIC,
            help="deep-drilling-field alerts again, with 30 days of history (default %(default)s; '' for none)",
        )
        parser.add_argument("--schema", choices=SCHEMA_VERSIONS, default=settings.ALERT_SCHEMA_VERSION)
        parser.add_argument("--limit", type=int, help="send at most this many alerts")
        parser.add_argument("--batch-size", type=int, default=5000, help="alerts built per batch (default %(default)s)")
        parser.add_argument(
            "-f",
            "--flush-every",
            type=int,
            default=50000,
            help="wait for all deliveries every N alerts (default %(default)s)",
        )
        parser.add_argument(
            "--builders", type=int, default=2, help="threads building batches ahead (default %(default)s)"
        )
        parser.add_argument("--history-days", type=float, default=365.0, help="alert history window (days)")
        parser.add_argument("--delivery-timeout", type=float, default=60.0, help="seconds Kafka may take per message")
        parser.add_argument("--do", action="store_true", help="really send (default: dry run)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        for name in ("limit", "batch_size", "flush_every", "builders"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        try:
            through = alert_sender.through_day_for(through_day=options["through_day"], added_days=options["added_days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        ddf_topics = [t for t in (options["ddf_full_topic"] or options["topic"], options["ddf_limited_topic"]) if t]
        if not options["do"]:
            summary = alert_sender.pending_summary(through_day=through)
            count = summary.count if options["limit"] is None else min(summary.count, options["limit"])
            span = f" (midPointTai {summary.first_mjd:.4f} to {summary.last_mjd:.4f})" if summary.count else ""
            dest = f"{options['topic']}, {summary.ddf_count} DDF alerts to {' and '.join(ddf_topics)}"
            self.stdout.write(
                f"Dry run: would send {count} of {summary.count} unsent alerts through MJD {through:.4f}{span} "
                f"to {options['kafka_server']} topic {dest}, schema {options['schema']}. Add --do to send."
            )
            return

        require_kafka(options["kafka_server"])
        send_options = alert_sender.SendOptions(
            through_day=through,
            kafka_server=options["kafka_server"],
            topic=options["topic"],
            ddf_full_topic=options["ddf_full_topic"] or None,
            ddf_limited_topic=options["ddf_limited_topic"] or None,
            schema_version=options["schema"],
            limit=options["limit"],
            batch_size=options["batch_size"],
            flush_every=options["flush_every"],
            history_days=options["history_days"],
            delivery_timeout=options["delivery_timeout"],
            builders=options["builders"],
            progress=not options["no_progress"],
        )
        try:
            with stop_requested_by_signals() as stop:
                result = alert_sender.send_alerts(options=send_options, stop=stop)
        except alert_sender.SendError as exc:
            raise CommandError(str(exc)) from exc
        stopped = " (stopped by signal; rerun to send the rest)" if result.interrupted else ""
        ddf = f", {result.confirmed_ddf} of them DDF to {' and '.join(ddf_topics)}"
        self.stdout.write(
            f"Sent {result.confirmed} alerts through MJD {through:.4f} to {options['topic']}{ddf} "
            f"in {result.seconds:.1f} s ({result.rate:.0f} alerts/s){stopped}"
        )
