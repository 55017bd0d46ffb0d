"""The ELAsTiCC2 alert cycle on the sample, as the original TOM's own tools ran
it: send_elasticc_alerts -d 60578, the v0_9_1 fake broker, brokerpoll; then
-a 100 more nights. Real PostgreSQL and Kafka, in process."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from elasticc.metrics.refresh import refresh_metrics
from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage, DiaAlert
from elasticc.stream.fake_broker import FakeBrokerOptions, run_fake_broker
from tests.builders import load_sample

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _send(*args: str) -> str:
    out = io.StringIO()
    call_command("send_elasticc_alerts", *args, "--no-progress", "--do", stdout=out)
    return out.getvalue()


def _classify_and_store(*, kafka: str, alerts: str, answers: str, group: str) -> None:
    stats = run_fake_broker(
        options=FakeBrokerOptions(
            source_topics=[alerts], dest_topic=answers, kafka_server=kafka, group=f"{group}-fb", idle_exit=4
        )
    )
    assert stats.bad == 0
    call_command(
        "brokerpoll", "--config", "", "--server", kafka, "--topic", answers, "--group", f"{group}-poll",
        "--schema", "v0_9_1", "--until-idle", "--max-idle", "4", "--session-timeout-ms", "6000",
        "--batch-timeout", "0.5", stdout=io.StringIO(),
    )  # fmt: skip


def test_elasticc2_cycle_on_the_sample(shared_dir, transactional_db, admin_user, kafka_bootstrap, unique_name):
    load_sample(shared_dir, unsent=True)
    alerts, answers = f"{unique_name}-alerts", f"{unique_name}-answers"

    assert "Sent 545 alerts" in _send("-d", "60578", "-k", kafka_bootstrap, "--wfd-topic", alerts)
    _classify_and_store(kafka=kafka_bootstrap, alerts=alerts, answers=answers, group=unique_name)
    assert BrokerMessage.objects.count() == 1090
    assert BrokerClassification.objects.count() == 11445
    nugent = BrokerClassifier.objects.get(classifiername="NugentClassifier")
    assert set(
        BrokerClassification.objects.filter(classifier_id=nugent.classifierid).values_list("classid", "probability")
    ) == {(2222, 1.0)}
    assert set(BrokerClassifier.objects.values_list("evaluatedtaxonomy", flat=True)) == {"elasticc2"}

    refresh_metrics()
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/elasticc/metrics/{nugent.classifierid}/").content.decode()
    for level in ("exact", "category", "general", "broad"):
        assert f'value="{level}"' in page
    assert "outside taxonomy: 0" in page

    assert "Sent 105 alerts" in _send("-a", "100", "-k", kafka_bootstrap, "--wfd-topic", alerts)
    assert DiaAlert.objects.filter(alertsenttimestamp__isnull=False).count() == 650
    _classify_and_store(kafka=kafka_bootstrap, alerts=alerts, answers=answers, group=unique_name)
    assert BrokerMessage.objects.count() == 1300
