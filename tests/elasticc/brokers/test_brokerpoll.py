"""brokerpoll on the real (tansu) Kafka broker and the real test database.

brokerpoll runs as a subprocess (as in production); the tests produce
brokerClassification messages themselves with the project's Avro codec.
"""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage, RowCountDelta
from elasticc.read.counts import row_count
from tests.kafka_topics import CLASSES, encode, make_topic, produce, record
from tests.manage_py import run_manage
from tests.ports import free_port
from tom_desc.local_services import Tansu

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BASE_DIR = Path(__file__).resolve().parents[3]
NUGENT = ("NugentClassifier", "100%")


def brokerpoll(env: dict, *args: str, config: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "brokerpoll",
            "--config",
            config,
            "--session-timeout-ms",
            "6000",
            "--report-every",
            "2",
            "--batch-timeout",
            "0.5",
            *args,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 90) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out, err


def message_count(topic_prefix: str) -> int:
    return BrokerMessage.objects.filter(topicname__startswith=topic_prefix).count()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def assert_exactly_once(topic_prefix: str, alerts: range | list[int]) -> None:
    rows = list(BrokerMessage.objects.filter(topicname__startswith=topic_prefix).values_list("alertid", flat=True))
    assert len(rows) == len(alerts)
    assert sorted(rows) == list(alerts)


def test_every_message_stored_once_with_ordered_timing_and_bad_ones_counted(
    subprocess_env, kafka_bootstrap, unique_name
):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    good = [record(i) for i in range(1, 201)]
    payloads = [
        *encode(good[:100]),
        b"\x00\x01not avro at all",
        *encode([record(500, classid=112)]),
        *encode(good[100:]),
    ]
    produce(kafka_bootstrap, topic, payloads)

    process = brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--max-idle", "4")
    out, err = finish(process)
    # The message giving classId 112 twice is stored, with the first of them.
    assert "201 messages (201 new), 1406 classifications, 1 bad" in out
    # The periodic per-source report, caught up with the topic.
    assert re.search(r"source cmdline: 201 messages \(201 new\), 1406 classifications, 1 bad, lag 0\n", err)
    assert_exactly_once(topic, [*range(1, 201), 500])
    assert "skipped bad message" in err
    assert "RandomSNType/Perfect: 1 classification(s) repeating a classId of the same message left out" in err
    assert "does not decode as v0_9_1" in err
    # Logged with topic/partition/offset.
    assert f"{topic}[" in err
    assert BrokerClassification.objects.filter(brokermessage__topicname=topic).count() == 1406
    # brokerpoll folded the row-count deltas of its batches (on exit at the latest).
    assert list(RowCountDelta.objects.filter(key="elasticc_brokermessage").values_list("delta", flat=True)) == [201]
    assert row_count("elasticc_brokerclassification") == 1406
    assert BrokerClassification.objects.filter(brokermessage__alertid=500).count() == len(CLASSES) - 1

    for m in BrokerMessage.objects.filter(topicname=topic):
        assert m.streammessageid is not None
        assert m.kafkapartition in (0, 1)
        assert m.messagekey == f"kafka:{topic}:{m.kafkapartition}:{m.streammessageid}"
        assert m.elasticcpublishtimestamp < m.brokeringesttimestamp <= m.msghdrtimestamp <= m.descingesttimestamp

    # The same group again: offsets were committed, nothing is re-read.
    out, _ = finish(brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--max-idle", "4"))
    assert "0 messages (0 new)" in out
    # --reset re-reads from the start; the replay stores nothing new.
    out, _ = finish(brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--max-idle", "4", "--reset"))
    assert "201 messages (0 new), 0 classifications, 1 bad" in out
    assert_exactly_once(topic, [*range(1, 201), 500])


def test_v0_9_several_classifiers_in_one_message(subprocess_env, kafka_bootstrap, unique_name):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, encode([record(i, "v0_9") for i in range(1, 11)], "v0_9"))
    out, _ = finish(
        brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--schema", "v0_9", "--max-idle", "4")
    )
    assert "10 messages (10 new), 40 classifications, 0 bad" in out
    rows = sorted(
        BrokerClassification.objects.filter(brokermessage__alertid=3, brokermessage__topicname=topic).values_list(
            "classifier__classifiername", "classifier__classifierparams", "classid", "probability"
        )
    )
    assert rows == [
        ("Multi", "a", 121, 0.25),
        ("Multi", "a", 122, 0.75),
        ("Multi", "b", 221, 1.0),
        ("NugentClassifier", "100%", 111, 1.0),
    ]


def test_kill_9_mid_run_then_restart_loses_and_duplicates_nothing(subprocess_env, kafka_bootstrap, unique_name):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    total = 6000
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(total // 2)]))

    process = brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--batch-size", "100")
    wait_for(lambda: message_count(topic) >= 500, 60, "the first batches")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    stored_at_kill = message_count(topic)
    # The rest of the stream comes after the kill, however fast the first half went.
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(total // 2, total)]))

    # The killed member keeps its partitions until its session times out
    # (6 s), so the restart must wait longer than that before calling it idle.
    out, _ = finish(brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--max-idle", "15"))
    assert_exactly_once(topic, range(total))
    assert BrokerClassification.objects.filter(brokermessage__topicname=topic).count() == total * len(CLASSES)
    # The restart read from the committed offsets, not from the beginning:
    # at most the batches stored but not yet committed when it died (the one
    # the writer had just stored and the one it was storing) come again.
    consumed, new = map(int, re.search(r"(\d+) messages \((\d+) new\)", out).groups())
    assert new == total - stored_at_kill
    assert consumed - new <= 200


def test_sigterm_finishes_the_batch_and_exits_zero(subprocess_env, kafka_bootstrap, unique_name):
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(3000)]))
    process = brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--batch-size", "100")
    wait_for(lambda: message_count(topic) > 0, 60, "the first batch")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, _ = finish(process, timeout=15)
    assert time.monotonic() - started < 10
    stored = message_count(topic)
    assert f"{stored} messages ({stored} new)" in out  # everything consumed was stored and reported
    # The committed offsets match what was stored: a restart picks up exactly the rest.
    out, _ = finish(brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--max-idle", "4"))
    assert f"{3000 - stored} messages ({3000 - stored} new)" in out
    assert_exactly_once(topic, range(3000))


def write_config(tmp_path: Path, sources: list[dict]) -> Path:
    path = tmp_path / "brokerpoll.yaml"
    path.write_text(json.dumps({"sources": sources}))
    return path


def test_a_config_file_taxonomy_is_given_to_new_classifiers_and_an_admins_choice_kept(
    transactional_db, kafka_bootstrap, unique_name, tmp_path, caplog
):
    """A source's `taxonomy:` in the config file: the classifiers it registers
    are evaluated in it (ELAsTiCC2 here, where their 3-digit classIds would
    give ELAsTiCC by default). A classifier registered before keeps its
    taxonomy (here an admin's choice), and brokerpoll says so once, with the
    command that changes it."""
    topic = unique_name
    make_topic(kafka_bootstrap, topic)
    source = {"name": "pitt", "bootstrap.servers": kafka_bootstrap, "topics": [topic], "schema": "v0_9_1",
              "taxonomy": "elasticc2", "group.id": unique_name}  # fmt: skip
    config = write_config(tmp_path, [source])

    def poll() -> str:
        out = io.StringIO()
        call_command("brokerpoll", "--config", str(config), "--max-idle", "4", "--session-timeout-ms", "6000",
                     "--batch-timeout", "0.5", "--batch-size", "5", stdout=out)  # fmt: skip
        return out.getvalue()

    produce(kafka_bootstrap, topic, encode([record(i) for i in range(10)]))
    assert "pitt: 10 messages (10 new)" in poll()
    classifier = BrokerClassifier.objects.get()
    assert (classifier.taxonomy, classifier.defaulttaxonomy, classifier.evaluatedtaxonomy) == (
        "elasticc2", "elasticc", "elasticc2"
    )  # fmt: skip

    # An admin's choice (the command or the admin page).
    call_command(
        "set_classifier_taxonomy", str(classifier.classifierid), "elasticc", "--no-refresh", stdout=io.StringIO()
    )
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(10, 30)]))
    with caplog.at_level(logging.WARNING, logger="elasticc.brokerpoll"):
        assert "pitt: 20 messages (20 new)" in poll()
    classifier.refresh_from_db()
    assert classifier.evaluatedtaxonomy == "elasticc"
    said = [r.getMessage() for r in caplog.records if "not in the source's taxonomy" in r.getMessage()]
    assert len(said) == 1, said  # once, though every batch (of 5) had its messages
    assert "is evaluated in elasticc, not in the source's taxonomy elasticc2" in said[0]
    assert f"set_classifier_taxonomy {classifier.classifierid} elasticc2" in said[0]


def test_broker_restart_mid_run_and_a_dead_source_does_not_block_others(
    subprocess_env, kafka_bootstrap, unique_name, tmp_path
):
    private = Tansu(root=tmp_path / "tansu", port=free_port())
    private.up()
    try:
        prefix = unique_name
        before, after, steady = f"{prefix}-before", f"{prefix}-after", f"{prefix}-steady"
        make_topic(private.bootstrap, before)
        make_topic(kafka_bootstrap, steady)
        produce(private.bootstrap, before, encode([record(i) for i in range(300)]))
        fast_metadata = {"topic.metadata.refresh.interval.ms": 1000}
        config = write_config(
            tmp_path,
            [
                {
                    "name": "private",
                    "bootstrap.servers": private.bootstrap,
                    "topics": [f"^{prefix}-(before|after)$"],
                    "schema": "v0_9_1",
                    "group.id": f"{prefix}-private",
                    "settings": fast_metadata,
                },
                {
                    "name": "steady",
                    "bootstrap.servers": kafka_bootstrap,
                    "topics": steady,
                    "schema": "v0_9_1",
                    "group.id": {"env": "STEADY_GROUP"},
                },
                {
                    "name": "nobody-home",
                    "bootstrap.servers": f"127.0.0.1:{free_port()}",
                    "topics": ["whatever"],
                    "schema": "v0_9",
                    "group.id": f"{prefix}-dead",
                },
            ],
        )
        env = {**subprocess_env, "STEADY_GROUP": f"{prefix}-steady"}
        process = brokerpoll(env, config=str(config))
        try:
            wait_for(lambda: message_count(before) == 300, 60, "the messages before the restart")
            private.down()
            # While the private broker is down the other live source keeps going.
            produce(kafka_bootstrap, steady, encode([record(i) for i in range(1000, 1100)]))
            wait_for(lambda: message_count(steady) == 100, 60, "the steady source during the outage")
            assert process.poll() is None
            private.up()
            # tansu keeps topics in memory: after its restart offsets begin at 0
            # again, so new messages go to a new topic the pattern also matches.
            make_topic(private.bootstrap, after)
            produce(private.bootstrap, after, encode([record(i) for i in range(300, 500)]))
            wait_for(lambda: message_count(after) == 200, 90, "the messages after the restart")
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err[-3000:]
        assert_exactly_once(before, range(300))
        assert_exactly_once(after, range(300, 500))
        assert_exactly_once(steady, range(1000, 1100))
        assert "nobody-home: 0 messages" in out
        assert "source nobody-home: kafka:" in err
    finally:
        private.down()


def test_command_errors_are_one_line_and_nonzero(subprocess_env, tmp_path):
    result = run_manage(subprocess_env, "brokerpoll", "--config", "", timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: no sources: set BROKERPOLL_CONFIG, pass --config, or give --topic"
    ]
    env = {**subprocess_env, "BROKERPOLL_CONFIG": ""}
    result = run_manage(env, "brokerpoll", "--config", str(tmp_path / "missing.yaml"), timeout=60)
    assert result.returncode != 0
    assert "cannot read brokerpoll config" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_consumer_group_scale_out_with_a_kill_and_a_new_member(subprocess_env, kafka_bootstrap, unique_name):
    """Several brokerpoll processes in one consumer group share a 6-partition
    topic (Kafka's own mechanism, nothing of ours): one is killed with -9
    mid-stream and another joins; every message is stored exactly once.
    The second half of the stream is produced after the kill, so the kill
    lands mid-stream however fast the machine consumes the first half."""
    topic = unique_name
    make_topic(kafka_bootstrap, topic, partitions=6)
    total = 9000
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(total // 2)]), partitions=6)
    members = [
        brokerpoll(subprocess_env, "--topic", topic, "--group", unique_name, "--batch-size", "100", "--max-idle", "20")
        for _ in range(3)
    ]
    wait_for(lambda: message_count(topic) >= 1500, 90, "the first batches")
    members[0].send_signal(signal.SIGKILL)
    members[0].communicate(timeout=10)
    produce(kafka_bootstrap, topic, encode([record(i) for i in range(total // 2, total)]), partitions=6)
    joined = brokerpoll(
        subprocess_env, "--topic", topic, "--group", unique_name, "--batch-size", "100", "--max-idle", "20"
    )
    for process in [*members[1:], joined]:
        finish(process, timeout=180)
    assert_exactly_once(topic, range(total))
    assert BrokerClassification.objects.filter(brokermessage__topicname=topic).count() == total * len(CLASSES)
