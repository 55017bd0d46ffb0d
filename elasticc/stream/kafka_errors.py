"""The `error_cb` of the alert stream's producers and consumers: the
project's one Kafka error logger (`tom_desc.commands.log_limits.KafkaErrorLog`)
on the `elasticc.kafka` logger, each distinct error at most once a minute."""

import logging

from tom_desc.commands.log_limits import KafkaErrorLog

log_kafka_error = KafkaErrorLog(logging.getLogger("elasticc.kafka"))
