"""The known world after the real alert sender streamed the sample to Kafka:
-d 60578, then -a 100 more nights."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from elasticc.followup.selectors import KnownWorld, known_world
from tests.builders import load_sample

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _send(kafka: str, topic: str, *args: str) -> str:
    out = io.StringIO()
    call_command("send_elasticc_alerts", *args, "-k", kafka, "--wfd-topic", topic, "--do", "--no-progress", stdout=out)
    return out.getvalue()


def test_known_world_follows_the_alert_stream(shared_dir, transactional_db, kafka_bootstrap, unique_name):
    load_sample(shared_dir, unsent=True)
    assert known_world() == KnownWorld(objects=0, detections=0, forced=0)
    assert "Sent 545 alerts" in _send(kafka_bootstrap, unique_name, "-d", "60578")
    assert known_world() == KnownWorld(objects=102, detections=545, forced=4242)
    assert "Sent 105 alerts" in _send(kafka_bootstrap, unique_name, "-a", "100")
    assert known_world() == KnownWorld(objects=131, detections=650, forced=5765)
