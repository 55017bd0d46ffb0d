"""Broker PUT accepts fractional-millisecond timestamps, as the original did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from elasticc.brokers.parsing import BrokerMessageError, parse_broker_messages
from elasticc.models import BrokerClassification, BrokerMessage
from tests.builders import T0, broker_message_v0_9_1

pytestmark = pytest.mark.django_db
URL = "/elasticc/brokermessage/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_put_with_float_timestamps_keeps_the_fraction_and_replays_store_nothing(client_for, broker_user):
    message = broker_message_v0_9_1(1)
    message.update(
        elasticcPublishTimestamp=T0 + 0.25, brokerIngestTimestamp=T0 + 500.5, brokerPublishTimestamp=T0 + 900.125
    )
    client = client_for(broker_user)
    response = client.put(URL, [message], format="json")
    assert response.status_code == 201, response.content
    assert response.json()["num_loaded"] == 1
    stored = BrokerMessage.objects.get()
    assert stored.elasticcpublishtimestamp == EPOCH + timedelta(milliseconds=T0 + 0.25)
    assert stored.brokeringesttimestamp == EPOCH + timedelta(milliseconds=T0 + 500.5)
    assert stored.msghdrtimestamp == EPOCH + timedelta(milliseconds=T0 + 900.125)

    replay = client.put(URL, [message], format="json")
    assert replay.status_code == 201
    assert replay.json()["num_loaded"] == 0
    assert BrokerMessage.objects.count() == 1
    assert BrokerClassification.objects.count() == 2


def test_a_whole_float_is_the_same_message_as_the_integer():
    as_int = broker_message_v0_9_1(2)
    as_float = {**as_int, "elasticcPublishTimestamp": float(as_int["elasticcPublishTimestamp"])}
    (a,), (b,) = parse_broker_messages(payloads=[as_int]), parse_broker_messages(payloads=[as_float])
    assert a == b


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "1700000000000.5", 1e300])
def test_non_finite_or_non_numeric_timestamps_are_refused(value):
    message = {**broker_message_v0_9_1(3), "brokerIngestTimestamp": value}
    with pytest.raises(BrokerMessageError) as info:
        parse_broker_messages(payloads=[message])
    assert info.value.field == "brokerIngestTimestamp"
