"""The /elasticc2/ namespace: the original ELAsTiCC2 paths and JSON shapes over the same database."""

from __future__ import annotations

import pytest

from elasticc.models import BrokerMessage
from tests.builders import T0, broker_message_v0_9_1, load_small_sim

pytestmark = pytest.mark.django_db

URL = "/elasticc2/brokermessage/"


def test_put_with_float_timestamps_then_read_by_id_and_alert(client_for, broker_user, plain_user):
    message = broker_message_v0_9_1(5, source=50, probs=((2222, 0.8), (2223, 0.2)), classifier="ELAsTiCC2 classifier")
    message["elasticcPublishTimestamp"] = T0 + 0.25
    message["brokerIngestTimestamp"] = T0 + 512.75
    response = client_for(broker_user).put(URL, [message], format="json")
    assert response.status_code == 201, response.content
    first = response.json()["brokerMessageId"]
    assert response.json() == {"brokerMessageId": first, "num_loaded": 1}
    assert response["Location"].endswith(f"/elasticc2/brokermessage/{first}/")
    assert client_for(broker_user).put(URL, [message], format="json").json()["num_loaded"] == 0
    assert BrokerMessage.objects.count() == 1

    reader = client_for(plain_user)
    one = reader.get(f"{URL}{first}/").json()
    assert one["alertId"] == 5
    assert one["elasticcPublishTimestamp"].endswith(":20.000250Z")  # T0 + 0.25 ms, kept to the microsecond
    assert {c["classId"] for c in one["classifications"]} == {2222, 2223}
    by_alert = reader.get(f"{URL}alertid=5/").json()
    assert [m["brokerMessageId"] for m in by_alert] == [first]
    assert reader.get(f"{URL}alertid=6/").json() == []
    assert reader.get(URL, {"alertId": 5}).json()["results"][0]["brokerMessageId"] == first


def test_classids_in_the_original_shape(client_for, plain_user):
    for url in ("/elasticc2/classids", "/elasticc2/classids/"):
        response = client_for(plain_user).get(url)
        assert response.status_code == 200
        classes = response.json()
        assert len(classes) == 42
        ia = classes["2222"]
        assert ia["description"] == "Ia"
        assert ia["gentype"]
        assert all(isinstance(g, int) for g in ia["gentype"])
        assert (ia["exactmatch"], ia["categorymatch"], ia["generalmatch"], ia["broadmatch"]) == (
            True,
            True,
            True,
            True,
        )
        without = [c for c in classes.values() if not c["gentype"]]
        assert without
        assert all(not (c["exactmatch"] or c["categorymatch"] or c["generalmatch"] or c["broadmatch"]) for c in without)
        assert set(ia) == {"description", "gentype", "exactmatch", "categorymatch", "generalmatch", "broadmatch"}


def test_classifiers_json_keyed_by_id(client_for, broker_user, plain_user):
    client_for(broker_user).put(URL, [broker_message_v0_9_1(7, probs=((2222, 1.0),))], format="json")
    data = client_for(plain_user).get("/elasticc2/classifiers_json").json()
    assert list(data.values()) == [
        {
            "brokername": "FakeBroker",
            "brokerversion": "v1.0",
            "classifiername": "NugentClassifier",
            "classifierparams": "100%",
        }
    ]
    assert all(key.isdigit() for key in data)


def test_simulation_tables_under_both_prefixes(client_for, plain_user, api_client):
    load_small_sim()
    a = client_for(plain_user).get("/elasticc/diaobject/").json()
    b = client_for(plain_user).get("/elasticc2/diaobject/").json()
    assert a["results"] == b["results"]
    assert b["next"] is None or "/elasticc2/diaobject/" in b["next"]
    assert api_client.get("/elasticc2/classids").status_code == 403
    assert api_client.get("/elasticc2/diaobject/").status_code == 403
