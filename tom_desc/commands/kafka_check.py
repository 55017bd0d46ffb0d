"""Is Kafka there? Asked once when a command that cannot work without it starts.

librdkafka retries an unreachable bootstrap server for ever (logging each
attempt), so `fakebroker` or `send_elasticc_alerts` started without Kafka
would neither work nor stop. They ask for the cluster's metadata first
(`list_topics` with a timeout, a standard client call) and, without an
answer, end in one line. `brokerpoll` does not: a broker that is down is
retried with backoff (elasticc/brokers/kafka_consumer.py).
"""

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from django.core.management.base import CommandError

KAFKA_CHECK_TIMEOUT = 5.0  # seconds; a local or cluster broker answers in milliseconds

# librdkafka's lines about the failed connections: the one-line error says it.
_quiet = logging.getLogger("tom_desc.kafka_check")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def require_kafka(servers: str, *, timeout: float = KAFKA_CHECK_TIMEOUT) -> None:
    """Return once the Kafka bootstrap `servers` answer a metadata request,
    or raise CommandError (one line: where, and how to start the local
    services) after `timeout` seconds."""
    client = AdminClient({"bootstrap.servers": servers, "logger": _quiet, "error_cb": lambda error: None})
    try:
        client.list_topics(timeout=timeout)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        raise CommandError(
            f"Kafka at {servers} did not answer in {timeout:g} s ({reason}); is it running? Start the local "
            "services with: .venv/bin/python -m tom_desc.local_services up (or set KAFKA_BOOTSTRAP_SERVERS)"
        ) from None
