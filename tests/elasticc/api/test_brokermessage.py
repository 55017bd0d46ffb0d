"""PUT/POST /elasticc/brokermessage/ and reading messages back."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage
from elasticc.read.counts import row_count
from tests.builders import (
    T0,
    broker_message_v0_9,
    broker_message_v0_9_1,
    load_small_sim,
    make_user,
    object_id,
    source_id,
)

pytestmark = pytest.mark.django_db

URL = "/elasticc/brokermessage/"


def v0_9_1(alert: int, **kwargs) -> dict:
    return broker_message_v0_9_1(alert, source=alert, **kwargs)


def v0_9(alert: int) -> dict:
    return broker_message_v0_9(
        alert, {("A", "p1"): {111: 0.5, 113: 0.5}, ("B", ""): {121: 1.0}}, broker=("OldBroker", "0.9")
    )


def _nothing_stored() -> bool:
    return not BrokerMessage.objects.exists() and not BrokerClassification.objects.exists()


def test_put_one_message_then_replay(client_for, broker_user):
    client = client_for(broker_user)
    response = client.put(URL, v0_9_1(7), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["num_loaded"] == 1
    message = BrokerMessage.objects.get()
    assert body["brokerMessageId"] == message.brokermessageid
    assert response["Location"] == f"http://testserver/elasticc/brokermessage/{message.brokermessageid}/"
    assert message.topicname == "REST_push"
    replay = client.put(URL, v0_9_1(7), format="json")
    assert replay.status_code == 201
    assert replay.json()["num_loaded"] == 0
    assert BrokerMessage.objects.count() == 1
    assert BrokerClassification.objects.count() == 2


def test_a_repeated_classid_is_stored_once_and_logged(client_for, broker_user, caplog):
    """A classId is never a reason to drop a message (README, "Taxonomies"): one given
    twice for a classifier is stored once, as first given, and logged."""
    client = client_for(broker_user)
    payload = [v0_9_1(1, probs=((2222, 0.5), (2223, 0.25), (2222, 0.25))), v0_9_1(2)]
    with caplog.at_level("WARNING", logger="elasticc.brokers.storage"):
        response = client.put(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["num_loaded"] == 2
    assert sorted(
        BrokerClassification.objects.filter(brokermessage__alertid=1).values_list("classid", "probability")
    ) == [(2222, 0.5), (2223, 0.25)]
    classifier = BrokerClassifier.objects.get()
    assert f"classifier {classifier.classifierid} FakeBroker/v1.0/NugentClassifier/100%: 1 classification" in (
        caplog.text
    )
    # A replay stores nothing twice (and logs nothing again).
    caplog.clear()
    with caplog.at_level("WARNING", logger="elasticc.brokers.storage"):
        assert client.put(URL, payload, format="json").json()["num_loaded"] == 0
    assert "repeating" not in caplog.text
    assert BrokerClassification.objects.count() == 2 + 2


def test_post_a_list_in_both_schema_versions(client_for, broker_user):
    client = client_for(broker_user)
    payload = [v0_9_1(1), v0_9_1(2, classifier="RandomSNType"), v0_9(3)]
    payload[0]["brokerPublishTimestamp"] = T0 + 9000
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["num_loaded"] == 3
    assert row_count("elasticc_brokermessage") == 3
    assert BrokerClassification.objects.count() == 2 + 2 + 3
    assert set(BrokerClassifier.objects.values_list("classifiername", flat=True)) == {
        "NugentClassifier",
        "RandomSNType",
        "A",
        "B",
    }
    assert BrokerMessage.objects.get(alertid=1).msghdrtimestamp.timestamp() * 1000 == T0 + 9000
    assert client.post(URL, payload, format="json").json()["num_loaded"] == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.pop("alertId"), "alertId"),
        (lambda m: m["classifications"][1].update(classId=111.5), "classifications[1].classId"),
        (lambda m: m["classifications"][0].update(probability=1.5), "classifications[0].probability"),
        (lambda m: m.update(elasticcPublishTimestamp="yesterday"), "elasticcPublishTimestamp"),
    ],
)
def test_malformed_list_is_rejected_whole(client_for, broker_user, mutate, field):
    payload = [v0_9_1(1), v0_9_1(2), v0_9_1(3)]
    mutate(payload[2])
    response = client_for(broker_user).put(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["index"] == 2
    assert body["field"] == field
    assert "2" in body["error"]
    assert field in body["error"]
    assert _nothing_stored()


def test_bad_bodies(client_for, broker_user):
    client = client_for(broker_user)
    not_json = client.put(URL, "{not json", content_type="application/json")
    assert not_json.status_code == 400
    assert "error" in not_json.json()
    assert client.put(URL, [], format="json").status_code == 400
    too_many = client.put(URL, [v0_9_1(i) for i in range(1001)], format="json")
    assert too_many.status_code == 400
    assert "1000" in too_many.json()["error"]
    assert client.put(URL, [1, 2], format="json").json()["index"] == 0
    assert _nothing_stored()


def test_only_brokers_may_put(client_for, plain_user, admin_user, api_client):
    assert api_client.put(URL, v0_9_1(1), format="json").status_code in (401, 403)
    for user in (plain_user, admin_user):
        response = client_for(user).put(URL, v0_9_1(1), format="json")
        assert response.status_code == 403
        assert "elasticc_broker" in response.json()["error"]
        assert client_for(user).post(URL, v0_9_1(1), format="json").status_code == 403
    assert _nothing_stored()


def test_read_messages_with_classifications_and_filters(client_for, broker_user, plain_user):
    load_small_sim()
    client = client_for(broker_user)
    a, b, c = source_id(1, 0), source_id(1, 1), source_id(2, 0)
    client.put(URL, [v0_9_1(a), v0_9_1(b, classifier="RandomSNType"), v0_9_1(c)], format="json")
    reader = client_for(plain_user)
    listing = reader.get(URL).json()
    assert listing["count"] == 3
    assert [m["alertId"] for m in listing["results"]] == [a, b, c]
    first = listing["results"][0]
    assert first["topicName"] == "REST_push"
    assert first["elasticcPublishTimestamp"].startswith("2023-11-14T22:")
    assert first["classifications"] == [
        {
            "classifierId": first["classifications"][0]["classifierId"],
            "brokerName": "FakeBroker",
            "brokerVersion": "v1.0",
            "classifierName": "NugentClassifier",
            "classifierParams": "100%",
            "classId": cid,
            "probability": p,
        }
        for cid, p in ((111, 0.75), (112, 0.25))
    ]
    detail = reader.get(f"{URL}{first['brokerMessageId']}/").json()
    assert detail == first

    def alert_ids(query: str) -> list[int]:
        return [m["alertId"] for m in reader.get(f"{URL}?{query}").json()["results"]]

    assert alert_ids(f"alertId={b}") == [b]
    assert alert_ids(f"diaSourceId={a},{c}") == [a, c]
    assert alert_ids(f"diaObjectId={object_id(1)}") == [a, b]
    random_id = BrokerClassifier.objects.get(classifiername="RandomSNType").classifierid
    assert alert_ids(f"classifierId={random_id}") == [b]
    assert reader.get(f"{URL}999999/").status_code == 404

    classifiers = reader.get("/elasticc/classifiers/").json()
    assert {(k["classifierName"], k["numClassifications"]) for k in classifiers} == {
        ("NugentClassifier", 4),
        ("RandomSNType", 2),
    }


def test_put_costs_the_same_queries_for_10_or_1000_messages(client_for, broker_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(broker_user)
    client.put(URL, v0_9_1(0), format="json")  # session, classId cache, classifier registered
    counts = []
    for first, n in ((1, 10), (100, 1000)):
        with CaptureQueriesContext(connection) as context:
            response = client.put(URL, [v0_9_1(first + i) for i in range(n)], format="json")
        assert response.status_code == 201
        assert response.json()["num_loaded"] == n
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 12


def test_bodies_that_used_to_be_500s_are_400_json(client_for, broker_user):
    client = client_for(broker_user)
    bodies = {
        # Over the unique index's entry size (2,704 bytes) when unbounded.
        "classifierName": json.dumps(v0_9_1(1) | {"classifierName": "x" * 3000}),
        "classifierParams": json.dumps(v0_9_1(1) | {"classifierParams": "p" * 3000}),
        "classifications[0].probability": json.dumps(v0_9_1(1)).replace("0.75", "1" + "0" * 400),
        "brokerName": json.dumps(v0_9_1(1)).replace('"FakeBroker"', '"Fake\\ud800Broker"'),
    }
    for field, body in bodies.items():
        response = client.put(URL, body, content_type="application/json")
        assert response.status_code == 400, (field, response.content[:300])
        assert response["Content-Type"] == "application/json"
        assert response.json()["field"] == field
    assert _nothing_stored()


def test_what_the_database_refuses_is_a_400_and_nothing_is_stored(client_for, broker_user):
    with connection.cursor() as cursor:  # a rule validation does not know (rolled back with the test)
        cursor.execute("ALTER TABLE elasticc_brokermessage ADD CONSTRAINT test_poison CHECK (alertid <> 2)")
    response = client_for(broker_user).put(URL, [v0_9_1(1), v0_9_1(2)], format="json")
    assert response.status_code == 400
    assert "test_poison" in response.json()["error"]
    assert _nothing_stored()


def test_a_broker_account_registers_at_most_its_limit_of_classifiers(client_for, broker_user, settings):
    settings.BROKER_MAX_CLASSIFIERS_PER_ACCOUNT = 3
    client = client_for(broker_user)
    assert client.put(URL, [v0_9_1(1, classifier="A"), v0_9_1(2, classifier="B")], format="json").status_code == 201
    over = client.put(URL, [v0_9_1(3, classifier="A"), v0_9_1(4, classifier="C"), v0_9_1(5, classifier="D")],
                      format="json")  # fmt: skip
    assert over.status_code == 400
    body = over.json()
    assert (body["limit"], body["setting"]) == (3, "BROKER_MAX_CLASSIFIERS_PER_ACCOUNT")
    assert "at most 3" in body["error"]
    # Nothing of the refused PUT is stored.
    assert not BrokerMessage.objects.filter(alertid__in=[3, 4, 5]).exists()
    assert set(BrokerClassifier.objects.values_list("classifiername", flat=True)) == {"A", "B"}
    # Known classifiers are always fine, and one more new one fits.
    assert client.put(URL, [v0_9_1(6, classifier="A"), v0_9_1(7, classifier="C")], format="json").status_code == 201
    assert client.put(URL, v0_9_1(8, classifier="E"), format="json").status_code == 400
    assert set(BrokerClassifier.objects.filter(registeredby=broker_user).values_list("classifiername", flat=True)) == {
        "A", "B", "C"
    }  # fmt: skip
    # The limit is per account.
    other = make_user("other_broker", "elasticc_broker")
    assert client_for(other).put(URL, v0_9_1(9, classifier="E"), format="json").status_code == 201
    assert BrokerClassifier.objects.get(classifiername="E").registeredby == other


def test_options_on_the_list_is_not_a_500(client_for, broker_user):
    """Found by the fuzzer: DRF describes PUT by fetching an object, which a list route has not."""
    response = client_for(broker_user).options(URL)
    assert response.status_code == 200
    assert response.json()["name"]
