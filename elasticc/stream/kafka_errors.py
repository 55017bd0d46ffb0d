"""librdkafka's error callback for the alert stream's producers and consumers.

librdkafka retries broker outages itself and reports them through
`error_cb`; without a callback they would go to stderr unformatted. Logged as
warnings, each distinct one at most once a minute: the caller decides what is
fatal (undelivered alerts, a flush that times out).
"""

import logging

from confluent_kafka import KafkaError

from tom_desc.commands.log_limits import OncePer

logger = logging.getLogger("elasticc.kafka")
# librdkafka reports each reconnection attempt: one line per distinct error a minute.
_errors = OncePer(60.0)


def log_kafka_error(err: KafkaError) -> None:
    allowed, held = _errors.allow(str(err))
    if allowed:
        logger.warning("Kafka: %s%s", err, f" ({held} more like it since the last one)" if held else "")
