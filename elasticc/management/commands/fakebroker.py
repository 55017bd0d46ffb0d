"""`manage.py fakebroker --source-topic T [--source-topic T2] --dest-topic D`: a stand-in broker."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, SCHEMA_VERSIONS
from elasticc.stream.fake_broker import FakeBrokerOptions, run_fake_broker
from tom_desc.commands.kafka_check import require_kafka
from tom_desc.commands.stop_signals import stop_requested_by_signals


class Command(BaseCommand):
    help = (
        "Read ELAsTiCC alerts from Kafka and publish FakeBroker classifications (NugentClassifier and "
        "RandomSNType) for each. Stops on SIGTERM/SIGINT, after --max-messages, or after --idle-exit seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source-topic", action="append", required=True, help="alert topic (repeatable; ^regex allowed)"
        )
        parser.add_argument("--dest-topic", required=True, help="topic for the classifications")
        parser.add_argument("--kafka-server", default=settings.KAFKA_BOOTSTRAP_SERVERS, help="default %(default)s")
        parser.add_argument("--dest-kafka-server", help="server for --dest-topic (default: --kafka-server)")
        parser.add_argument("--group", default="fakebroker", help="consumer group id (default %(default)s)")
        parser.add_argument(
            "--schema",
            choices=SCHEMA_VERSIONS,
            default=DEFAULT_SCHEMA_VERSION,
            help="brokerClassification message format",
        )
        parser.add_argument("--max-messages", type=int, help="stop after reading this many alerts")
        parser.add_argument("--idle-exit", type=float, help="stop after this many seconds without alerts")
        parser.add_argument("--seed", type=int, help="seed for RandomSNType (reproducible runs)")

    def handle(self, *args, **options):
        if options["max_messages"] is not None and options["max_messages"] < 1:
            raise CommandError("--max-messages must be at least 1")
        if options["idle_exit"] is not None and options["idle_exit"] <= 0:
            raise CommandError("--idle-exit must be positive")
        for servers in {options["kafka_server"], options["dest_kafka_server"] or options["kafka_server"]}:
            require_kafka(servers)
        broker_options = FakeBrokerOptions(
            source_topics=options["source_topic"],
            dest_topic=options["dest_topic"],
            kafka_server=options["kafka_server"],
            dest_kafka_server=options["dest_kafka_server"],
            group=options["group"],
            schema_version=options["schema"],
            max_messages=options["max_messages"],
            idle_exit=options["idle_exit"],
            seed=options["seed"],
        )
        try:
            with stop_requested_by_signals() as stop:
                stats = run_fake_broker(options=broker_options, stop=stop)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(stats.summary())
