"""Commands that need Kafka, run without it (issue 13 item 9): `fakebroker`
and `send_elasticc_alerts --do` say so in one line and exit non-zero within
seconds (tom_desc/commands/kafka_check.py), instead of retrying for ever
with a log line per attempt; `brokerpoll` keeps retrying, one line per
distinct error a minute (tom_desc/commands/log_limits.py)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from tests.ports import free_port
from tom_desc.commands.kafka_check import require_kafka
from tom_desc.commands.log_limits import OncePer

BASE_DIR = Path(__file__).resolve().parents[2]


def test_require_kafka_answers_or_raises_one_line(kafka_bootstrap):
    require_kafka(kafka_bootstrap)
    port = free_port()
    started = time.monotonic()
    with pytest.raises(CommandError) as raised:
        require_kafka(f"127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"Kafka at 127.0.0.1:{port} did not answer in 1 s")
    assert "tom_desc.local_services up" in message


def test_once_per_lets_each_distinct_line_through_once_per_interval(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limit = OncePer(60.0)
    refused = (
        "FAIL [rdkafka#consumer-1]: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)"
    )
    down = "KafkaError{code=_ALL_BROKERS_DOWN,val=-187,str=1/1 brokers are down}"
    # Alternating errors (as librdkafka reports them) are each logged once, not every other time.
    assert [limit.allow(text) for text in (refused, down, refused, down)] == [
        (True, 0),
        (True, 0),
        (False, 0),
        (False, 0),
    ]
    # The same failure with another duration or client number is the same line.
    assert limit.allow(refused.replace("after 0ms", "after 12ms").replace("consumer-1", "consumer-2")) == (False, 0)
    now[0] += 61
    assert limit.allow(refused) == (True, 2)
    assert limit.allow("another error") == (True, 0)

    # As a logging filter: the held-back count is added to the line that goes through.
    logger = logging.getLogger("tests.once_per")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    logger.addFilter(OncePer(60.0))
    try:
        for _ in range(5):
            logger.warning("broker %s is down (after %dms)", "b1", 3)
        now[0] += 61
        logger.warning("broker %s is down (after %dms)", "b1", 7)
    finally:
        logger.removeHandler(handler)
    assert records == [
        "broker b1 is down (after 3ms)",
        "broker b1 is down (after 7ms) (4 more like it since the last one)",
    ]


def _manage(env: dict, *args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    return result, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ("fakebroker", "--source-topic", "alerts", "--dest-topic", "classifications", "--kafka-server"),
        ("send_elasticc_alerts", "-d", "61000", "--do", "--no-progress", "-k"),
    ],
    ids=["fakebroker", "send_elasticc_alerts"],
)
def test_commands_without_kafka_say_so_in_one_line(subprocess_env, command):
    result, seconds = _manage(subprocess_env, *command, f"127.0.0.1:{free_port()}")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: Kafka at 127.0.0.1:")
    assert "is it running?" in lines[0]
    assert seconds < 20


@pytest.mark.slow
def test_brokerpoll_retries_a_dead_broker_without_flooding_the_log(subprocess_env):
    """Before: every reconnection attempt was logged (librdkafka's FAIL line
    every 0.25-10 s, the _TRANSPORT and _ALL_BROKERS_DOWN errors alternating
    so neither was ever held back). Now each distinct line once a minute."""
    result, _ = _manage(
        subprocess_env,
        "brokerpoll",
        "--config",
        "",
        "--topic",
        "anything",
        "--server",
        f"127.0.0.1:{free_port()}",
        "--max-idle",
        "8",
        "--report-every",
        "600",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kafka_lines = [line for line in result.stderr.splitlines() if "librdkafka" in line or ": kafka: " in line]
    assert kafka_lines, result.stderr
    assert len(kafka_lines) <= 4, "\n".join(kafka_lines)
    assert sum("FAIL" in line for line in kafka_lines) == 1, "\n".join(kafka_lines)
    assert sum("_TRANSPORT" in line for line in kafka_lines) == 1, "\n".join(kafka_lines)
