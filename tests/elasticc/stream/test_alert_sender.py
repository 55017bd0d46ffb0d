"""send_elasticc_alerts on tansu: each alert sent exactly once, in simulated-time
order, also across a SIGTERM or a broker outage followed by a rerun."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from elasticc.avro import codec as avro_codec
from elasticc.stream.alert_builder import build_alerts
from elasticc.stream.alert_sender import SendError, SendOptions, send_alerts
from tests.builders import load_sample
from tests.kafka_topics import read_topic, topic_exists
from tests.ports import free_port
from tom_desc.local_services import Tansu

pytestmark = pytest.mark.kafka
BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _ddf_alerts_in_the_wfd_topic(settings, monkeypatch):
    """Without DDF topic names (empty settings) deep-drilling alerts go once,
    to the WFD topic, as in the tests that read all they sent from one topic;
    a test that names DDF topics gets them. (The defaults are shared topic
    names, which no test should write to.)"""
    for name in ("ALERT_DDF_TOPIC", "ALERT_DDF_LIMITED_TOPIC"):
        setattr(settings, name, "")
        monkeypatch.setenv(name, "")  # for manage.py in a subprocess


@pytest.fixture
def unsent_sample(shared_dir, transactional_db):
    """The sample, nothing sent yet, every fifth object a deep-drilling one."""
    load_sample(shared_dir, unsent=True, ddf_every=5)
    return shared_dir


def alerts_through(mjd: float) -> dict[int, tuple[float, bool]]:
    """{alertid: (midPointTai, isddf)} of alerts with midPointTai <= mjd."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.alertid, s.midpointtai, o.isddf FROM elasticc_diaalert a "
            "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "JOIN elasticc_diaobject o ON o.diaobjectid = a.diaobjectid WHERE s.midpointtai <= %s",
            [mjd],
        )
        return {r[0]: (r[1], r[2]) for r in cursor.fetchall()}


def sent_timestamps() -> dict[int, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT alertid, extract(epoch FROM alertsenttimestamp) * 1000 FROM elasticc_diaalert "
            "WHERE alertsenttimestamp IS NOT NULL"
        )
        return {r[0]: float(r[1]) for r in cursor.fetchall()}


def median_mjd() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY midpointtai) FROM elasticc_diasource")
        return float(cursor.fetchone()[0])


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("send_elasticc_alerts", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_dry_run_sends_nothing(unsent_sample, kafka_bootstrap, unique_name):
    through = median_mjd()
    out = run("--through-day", str(through), "--kafka-server", kafka_bootstrap, "--topic", unique_name)
    assert f"would send {len(alerts_through(through))} of {len(alerts_through(through))} unsent" in out
    assert "Dry run" in out
    assert sent_timestamps() == {}
    assert not topic_exists(kafka_bootstrap, unique_name)


@pytest.mark.slow
def test_sends_each_alert_once_in_time_order(unsent_sample, kafka_bootstrap, unique_name):
    through = median_mjd()
    expected = alerts_through(through)
    ddf_topic = f"{unique_name}-ddf"
    out = run(
        "--through-day", str(through), "--kafka-server", kafka_bootstrap, "--topic", unique_name,
        "--ddf-topic", ddf_topic, "--batch-size", "97", "--do",
    )  # fmt: skip
    n_ddf = sum(1 for _, ddf in expected.values() if ddf)
    assert f"Sent {len(expected)} alerts" in out
    assert f"{n_ddf} of them DDF to {ddf_topic}" in out
    assert "alerts/s" in out

    wide, deep = read_topic(kafka_bootstrap, unique_name), read_topic(kafka_bootstrap, ddf_topic)
    assert 0 < len(deep) == n_ddf
    assert len(wide) == len(expected) - n_ddf
    sent = sent_timestamps()
    assert set(sent) == set(expected)
    by_partition: dict[tuple[str, int], list[float]] = {}
    for topic, messages in ((unique_name, wide), (ddf_topic, deep)):
        for msg in messages:
            alert = avro_codec.decode(msg.value(), "alert", "v0_9_1")
            alertid = alert["alertId"]
            assert int(msg.key()) == alertid
            assert expected[alertid][1] == (topic == ddf_topic)
            # alertsenttimestamp is the Kafka timestamp of the delivered message.
            assert sent[alertid] == pytest.approx(msg.timestamp()[1], abs=1)
            by_partition.setdefault((topic, msg.partition()), []).append(expected[alertid][0])
    ids = Counter(avro_codec.decode(m.value(), "alert", "v0_9_1")["alertId"] for m in wide + deep)
    assert set(ids) == set(expected)
    assert max(ids.values()) == 1
    for times in by_partition.values():
        assert times == sorted(times)
    # The payload is exactly the alert the builder makes.
    first = avro_codec.decode(wide[0].value(), "alert", "v0_9_1")
    assert avro_codec.encode(first, "alert", "v0_9_1") == avro_codec.encode(
        build_alerts(alert_ids=[first["alertId"]])[0], "alert", "v0_9_1"
    )

    again = run("--through-day", str(through), "--kafka-server", kafka_bootstrap, "--topic", unique_name, "--do")
    assert "Sent 0 alerts" in again
    assert len(read_topic(kafka_bootstrap, unique_name)) == len(wide)


def test_limit_added_days_and_v0_9(unsent_sample, kafka_bootstrap, unique_name):
    out = run("--through-day", "99999", "--kafka-server", kafka_bootstrap, "--topic", unique_name,
              "--limit", "25", "--schema", "v0_9", "--batch-size", "4", "--builders", "3", "--do")  # fmt: skip
    assert "Sent 25 alerts" in out
    messages = read_topic(kafka_bootstrap, unique_name)
    assert len(messages) == 25
    decoded = [avro_codec.decode(m.value(), "alert", "v0_9") for m in messages]
    assert all(d["cutoutDifference"] is None for d in decoded)
    # Small batches over three builder threads still come out oldest first.
    first_25 = sorted(alerts_through(99999).items(), key=lambda kv: (kv[1][0], kv[0]))[:25]
    assert {d["alertId"] for d in decoded} == {alertid for alertid, _ in first_25}
    last_sent = max(alerts_through(99999)[d["alertId"]][0] for d in decoded)
    out = run("--added-days", "2", "--kafka-server", kafka_bootstrap, "--topic", unique_name)
    through = math.floor(last_sent + 0.5) + 2.5  # whole nights, as the original command counted them
    assert f"through MJD {through:.4f}" in out
    expected_more = len(alerts_through(through)) - 25
    assert f"would send {expected_more} of {expected_more}" in out


def test_bad_arguments(unsent_sample, kafka_bootstrap):
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run("--through-day", "60000", "--limit", "0")
    with pytest.raises(CommandError):
        run("--kafka-server", kafka_bootstrap)
    assert sent_timestamps() == {}


@pytest.mark.slow
def test_sigterm_mid_run_then_rerun_sends_each_alert_once(unsent_sample, subprocess_env, kafka_bootstrap, unique_name):
    expected = alerts_through(99999)
    cmd = [sys.executable, "manage.py", "send_elasticc_alerts", "--through-day", "99999",
           "--kafka-server", kafka_bootstrap, "--topic", unique_name, "--no-progress", "--do"]  # fmt: skip
    # One alert per batch and a flush after each: slow enough to interrupt.
    slow = subprocess.Popen(
        [*cmd, "--batch-size", "1", "--flush-every", "1"],
        cwd=BASE_DIR, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(sent_timestamps()) < 20:
            assert slow.poll() is None, slow.communicate()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.2)
        os.kill(slow.pid, signal.SIGTERM)
        out, err = slow.communicate(timeout=60)
    finally:
        if slow.poll() is None:
            slow.kill()
    assert slow.returncode == 0, err
    assert "stopped by signal" in out
    first_run = sent_timestamps()
    assert 20 <= len(first_run) < len(expected)
    assert len(read_topic(kafka_bootstrap, unique_name)) == len(first_run)

    rerun = subprocess.run(cmd, cwd=BASE_DIR, env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"Sent {len(expected) - len(first_run)} alerts" in rerun.stdout
    ids = Counter(int(m.key()) for m in read_topic(kafka_bootstrap, unique_name))
    assert set(ids) == set(expected)
    assert max(ids.values()) == 1
    # The first run's timestamps are kept.
    after = sent_timestamps()
    assert all(after[a] == t for a, t in first_run.items())


@pytest.mark.slow
def test_broker_outage_then_rerun_sends_the_rest(unsent_sample, tmp_path, unique_name):
    broker = Tansu(root=tmp_path / "kafka", port=free_port())
    broker.up()
    try:
        delivered_before_outage = []

        def outage_after_two_batches(result):
            if result.confirmed >= 100 and not delivered_before_outage:
                delivered_before_outage.append(len(read_topic(broker.bootstrap, unique_name)))
                broker.down()

        with pytest.raises(SendError, match="not confirmed"):
            send_alerts(
                options=SendOptions(
                    through_day=99999, kafka_server=broker.bootstrap, topic=unique_name, batch_size=50,
                    flush_every=50, delivery_timeout=5, progress=False,
                ),
                on_batch=outage_after_two_batches,
            )  # fmt: skip
        first_run = sent_timestamps()
        # Exactly the alerts Kafka held when it went down are marked sent.
        assert len(first_run) == delivered_before_outage[0] == 100

        # tansu keeps topics in memory: the restarted broker starts empty, so
        # it receives exactly what the rerun sends.
        broker.up()
        result = send_alerts(
            options=SendOptions(
                through_day=99999, kafka_server=broker.bootstrap, topic=unique_name, delivery_timeout=30, progress=False
            )
        )
        expected = alerts_through(99999)
        assert result.confirmed == len(expected) - 100
        ids = Counter(int(m.key()) for m in read_topic(broker.bootstrap, unique_name))
        assert max(ids.values()) == 1
        assert set(ids) == set(expected) - set(first_run)
        assert set(sent_timestamps()) == set(expected)
    finally:
        broker.down()


@pytest.fixture
def sample_with_unsent_ddf(shared_dir, transactional_db):
    load_sample(shared_dir, unsent=True, ddf_every=3)
    return shared_dir


def _history_span(alert: dict) -> float:
    """Days from the oldest forced source in the alert to its source."""
    forced = [f["midPointTai"] for f in alert["prvDiaForcedSources"] or []]
    return alert["diaSource"]["midPointTai"] - min(forced) if forced else 0.0


@pytest.mark.slow
def test_original_options_and_ddf_full_and_limited_topics(sample_with_unsent_ddf, kafka_bootstrap, unique_name):
    """The original command's options: -d, -a (whole nights), -k, --wfd-topic,
    --ddf-full-topic, --ddf-limited-topic, -f; a deep-drilling alert goes to both
    DDF topics, with the full history and with 30 days of it."""
    wfd, full, limited = f"{unique_name}-wfd", f"{unique_name}-ddf-full", f"{unique_name}-ddf-limited"
    out = run("-d", "60578", "-k", kafka_bootstrap, "--wfd-topic", wfd, "--ddf-full-topic", full,
              "--ddf-limited-topic", limited, "-f", "100", "--do")  # fmt: skip
    expected = alerts_through(60578)
    assert len(expected) == 545
    assert "Sent 545 alerts through MJD 60578.0000" in out
    ddf = {a for a, (_, isddf) in expected.items() if isddf}
    assert 0 < len(ddf) < 545
    wide = read_topic(kafka_bootstrap, wfd)
    full_alerts = {
        int(m.key()): avro_codec.decode(m.value(), "alert", "v0_9_1") for m in read_topic(kafka_bootstrap, full)
    }
    limited_alerts = {
        int(m.key()): avro_codec.decode(m.value(), "alert", "v0_9_1") for m in read_topic(kafka_bootstrap, limited)
    }
    assert {int(m.key()) for m in wide} == set(expected) - ddf
    assert set(full_alerts) == set(limited_alerts) == ddf
    assert set(sent_timestamps()) == set(expected)
    assert all(_history_span(a) <= 30.0 for a in limited_alerts.values())
    assert any(_history_span(full_alerts[a]) > 30.0 for a in ddf)
    assert all(
        {s["diaSourceId"] for s in limited_alerts[a]["prvDiaSources"]}
        <= {s["diaSourceId"] for s in full_alerts[a]["prvDiaSources"]}
        for a in ddf
    )

    out = run("-a", "100", "-k", kafka_bootstrap, "--wfd-topic", wfd, "--do")
    assert "Sent 105 alerts" in out
    assert len(sent_timestamps()) == 650
