"""KafkaErrorLog, the Kafka clients' error callback: one warning per distinct
error per interval, with the caller's prefix and the count held back."""

import logging
import time

from tom_desc.commands.log_limits import KafkaErrorLog


def test_kafka_error_log_prefixes_and_limits_each_error(monkeypatch, caplog):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    on_error = KafkaErrorLog(logging.getLogger("tests.kafka_errors"), "source pitt: kafka", seconds=60.0)
    with caplog.at_level(logging.WARNING, logger="tests.kafka_errors"):
        for _ in range(3):
            on_error("1/1 brokers are down")
        on_error("another error")
        now[0] += 61
        on_error("1/1 brokers are down")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "source pitt: kafka: 1/1 brokers are down"),
        ("WARNING", "source pitt: kafka: another error"),
        ("WARNING", "source pitt: kafka: 1/1 brokers are down (2 more like it since the last one)"),
    ]
