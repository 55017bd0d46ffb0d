"""The fake broker on tansu: two classifiers' answers per alert, both formats."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from django.core.management import CommandError, call_command

from elasticc.avro import codec as avro_codec
from elasticc.stream.fake_broker import alert_ids, random_sn_probabilities
from tests.kafka_topics import read_topic

pytestmark = pytest.mark.kafka
BASE_DIR = Path(__file__).resolve().parents[3]
SN_CLASSES = {*range(2222, 2227), *range(2232, 2236), *range(2242, 2247), *range(2322, 2327), 2332}
MALFORMED = b"\xff\xff"


def golden_alert(shared_dir: Path) -> dict:
    path = shared_dir / "elasticc" / "sample" / "alerts" / "alert_with_forced_155218500010.json"
    return json.loads(path.read_text())


def produce_alerts(bootstrap: str, topic: str, alerts: list[dict], version: str, extra: list[bytes] = ()) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for payload in [*avro_codec.encode_many(alerts, "alert", version), *extra]:
        producer.produce(topic, payload)
    assert producer.flush(30) == 0


def variants(base: dict, n: int, offset: int) -> list[dict]:
    out = []
    for i in range(n):
        alert = json.loads(json.dumps(base))
        alert["alertId"] = offset + i
        alert["diaSource"]["diaSourceId"] = 10 * (offset + i)
        out.append(alert)
    return out


def fakebroker(*args: str) -> str:
    out = io.StringIO()
    call_command("fakebroker", *args, stdout=out)
    return out.getvalue()


def alert_timestamps(bootstrap: str, topics: list[str]) -> dict[int, int]:
    """{alertId: Kafka timestamp (ms)} of the well-formed alerts in `topics`."""
    return {
        alert_ids(m.value())[0]: m.timestamp()[1]
        for t in topics
        for m in read_topic(bootstrap, t)
        if m.value() != MALFORMED
    }


@pytest.mark.slow
def test_two_classifier_messages_per_alert(shared_dir, kafka_bootstrap, unique_name):
    base = golden_alert(shared_dir)
    src_a, src_b, dest = f"{unique_name}-a", f"{unique_name}-b", f"{unique_name}-out"
    produce_alerts(kafka_bootstrap, src_a, variants(base, 30, 1000), "v0_9_1", extra=[MALFORMED])
    produce_alerts(kafka_bootstrap, src_b, variants(base, 20, 5000), "v0_9_1")
    out = fakebroker("--source-topic", src_a, "--source-topic", src_b, "--dest-topic", dest,
                     "--kafka-server", kafka_bootstrap, "--group", unique_name, "--idle-exit", "4")  # fmt: skip
    assert "answered 50 alerts with 100 messages (1 unreadable)" in out

    published = alert_timestamps(kafka_bootstrap, [src_a, src_b])
    messages = [
        avro_codec.decode(m.value(), "brokerClassification", "v0_9_1") for m in read_topic(kafka_bootstrap, dest)
    ]
    assert len(messages) == 100
    by_classifier: dict[str, dict[int, dict]] = {}
    for msg in messages:
        assert (msg["brokerName"], msg["brokerVersion"]) == ("FakeBroker", "v1.0")
        assert msg["diaSourceId"] == 10 * msg["alertId"]
        publish_ms = int(msg["elasticcPublishTimestamp"].timestamp() * 1000)
        assert publish_ms == published[msg["alertId"]]
        assert msg["brokerIngestTimestamp"] >= msg["elasticcPublishTimestamp"]
        by_classifier.setdefault(msg["classifierName"], {})[msg["alertId"]] = msg
    assert set(by_classifier) == {"NugentClassifier", "RandomSNType"}
    for name, params in (("NugentClassifier", "100%"), ("RandomSNType", "Perfect")):
        assert set(by_classifier[name]) == set(published)
        assert {m["classifierParams"] for m in by_classifier[name].values()} == {params}
    for msg in by_classifier["NugentClassifier"].values():
        assert msg["classifications"] == [{"classId": 2222, "probability": 1.0}]
    for msg in by_classifier["RandomSNType"].values():
        probs = {c["classId"]: c["probability"] for c in msg["classifications"]}
        assert set(probs) == SN_CLASSES
        assert all(0.0 <= p <= 1.0 for p in probs.values())
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)

    # Offsets were committed: the same group finds nothing new.
    again = fakebroker("--source-topic", src_a, "--source-topic", src_b, "--dest-topic", dest,
                       "--kafka-server", kafka_bootstrap, "--group", unique_name, "--idle-exit", "3")  # fmt: skip
    assert "answered 0 alerts" in again


@pytest.mark.slow
def test_v0_9_one_message_per_classifier(shared_dir, kafka_bootstrap, unique_name):
    src, dest = f"{unique_name}-in", f"{unique_name}-out"
    base = golden_alert(shared_dir)
    v0_9_alerts = []
    for alert in variants(base, 10, 700):
        alert["diaSource"].update(ccdVisitId=1, parentDiaSourceId=None, nobs=None)
        alert["prvDiaSources"] = []
        alert["prvDiaForcedSources"] = []
        alert["prvDiaNondetectionLimits"] = None
        alert["diaObject"].update(hostgal_zphot_p50=None, hostgal2_zphot_p50=None)
        alert["cutoutDifference"] = alert["cutoutTemplate"] = None
        v0_9_alerts.append(alert)
    produce_alerts(kafka_bootstrap, src, v0_9_alerts, "v0_9")
    out = fakebroker("--source-topic", src, "--dest-topic", dest, "--kafka-server", kafka_bootstrap,
                     "--group", unique_name, "--schema", "v0_9", "--max-messages", "10")  # fmt: skip
    assert "answered 10 alerts with 20 messages" in out
    messages = [avro_codec.decode(m.value(), "brokerClassification", "v0_9") for m in read_topic(kafka_bootstrap, dest)]
    assert sorted(m["alertId"] for m in messages) == sorted([*range(700, 710)] * 2)
    by_classifier: dict[str, set[int]] = {}
    for msg in messages:
        (name,) = {c["classifierName"] for c in msg["classifications"]}
        by_classifier.setdefault(name, set()).add(msg["alertId"])
        if name == "NugentClassifier":
            assert [(c["classId"], c["probability"]) for c in msg["classifications"]] == [(111, 1.0)]
        else:
            assert len(msg["classifications"]) == 7
            assert {c["classifierParams"] for c in msg["classifications"]} == {"Perfect"}
            assert sum(c["probability"] for c in msg["classifications"]) == pytest.approx(1.0, abs=1e-5)
    assert by_classifier == {"NugentClassifier": set(range(700, 710)), "RandomSNType": set(range(700, 710))}


@pytest.mark.slow
def test_sigterm_exits_cleanly(shared_dir, kafka_bootstrap, unique_name):
    src, dest = f"{unique_name}-in", f"{unique_name}-out"
    produce_alerts(kafka_bootstrap, src, variants(golden_alert(shared_dir), 5, 1), "v0_9_1")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tom_desc.settings"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "fakebroker", "--source-topic", src, "--dest-topic", dest,
         "--kafka-server", kafka_bootstrap, "--group", unique_name],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(read_topic(kafka_bootstrap, dest, idle=0.5)) < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "fakebroker answered nothing"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "answered 5 alerts with 10 messages" in out


def test_random_probabilities_and_bad_arguments():
    import random

    rng = random.Random(1)
    for _ in range(1000):
        probs = random_sn_probabilities(rng)
        assert [c for c, _ in probs] == [111, 112, 113, 114, 115, 135, 131]
        assert all(p >= 0 for _, p in probs)
        assert sum(p for _, p in probs) == pytest.approx(1.0)
    with pytest.raises(CommandError, match="--max-messages"):
        fakebroker("--source-topic", "x", "--dest-topic", "y", "--max-messages", "0")
    with pytest.raises(ValueError, match="truncated"):
        alert_ids(b"\x80")


@pytest.mark.slow
def test_started_before_the_alert_topic_exists(shared_dir, kafka_bootstrap, unique_name):
    """The demo's order: the fake broker subscribes first; the sender creates
    the topic later. Error-only polls meanwhile must not stop it."""
    src, dest = f"{unique_name}-in", f"{unique_name}-out"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tom_desc.settings"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "fakebroker", "--source-topic", src, "--dest-topic", dest,
         "--kafka-server", kafka_bootstrap, "--group", unique_name, "--idle-exit", "30"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()
        produce_alerts(kafka_bootstrap, src, variants(golden_alert(shared_dir), 5, 1), "v0_9_1")
        deadline = time.monotonic() + 60
        while len(read_topic(kafka_bootstrap, dest, idle=0.5)) < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "fakebroker answered nothing"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
