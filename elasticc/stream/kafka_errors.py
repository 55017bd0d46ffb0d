"""librdkafka's error callback for the alert stream's producers and consumers.

librdkafka retries broker outages itself and reports them through
`error_cb`; without a callback they would go to stderr unformatted. Logged as
warnings: the caller decides what is fatal (undelivered alerts, a flush that
times out).
"""

import logging

from confluent_kafka import KafkaError

logger = logging.getLogger("elasticc.kafka")


def log_kafka_error(err: KafkaError) -> None:
    logger.warning("Kafka: %s", err)
