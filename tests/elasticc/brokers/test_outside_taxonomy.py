"""A classId outside the classifier's taxonomy: stored, counted, left out of the metrics."""

from __future__ import annotations

import pytest
from django.db import connection

from elasticc.brokers.parsing import parse_broker_messages
from elasticc.brokers.storage import store_broker_messages
from elasticc.metrics import readers
from elasticc.metrics.refresh import refresh_metrics
from elasticc.models import BrokerClassification, BrokerClassifier, BrokerMessage
from tests.builders import N_OBJECTS, broker_message_v0_9_1, load_small_sim, object_id, source_id

URL = "/elasticc/brokermessage/"


@pytest.mark.django_db(transaction=True)
def test_outside_ids_are_stored_counted_and_excluded(client_for, broker_user, plain_user):
    load_small_sim()
    alerts = [source_id(i, 0) for i in range(N_OBJECTS)]
    # 9999 is in no taxonomy and, with the highest probability, would be the
    # prediction if it were not left out; 111 is ELAsTiCC's, not ELAsTiCC2's.
    payload = [
        broker_message_v0_9_1(a, source=a, probs=((2222, 0.3), (2242, 0.1), (9999, 0.5), (111, 0.1))) for a in alerts
    ]
    response = client_for(broker_user).put(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["num_loaded"] == N_OBJECTS
    # A replay stores nothing twice.
    assert client_for(broker_user).put(URL, payload, format="json").json()["num_loaded"] == 0
    assert BrokerMessage.objects.count() == N_OBJECTS
    assert BrokerClassification.objects.count() == 4 * N_OBJECTS
    assert BrokerClassification.objects.filter(classid=9999).count() == N_OBJECTS

    refresh_metrics(full=True)
    classifier = BrokerClassifier.objects.get()
    assert classifier.evaluatedtaxonomy == "elasticc2"
    stats = readers.classifier_stats()[classifier.classifierid]
    assert stats["noutside"] == 2 * N_OBJECTS
    assert stats["nmessages"] == N_OBJECTS
    cells = readers.confusion(classifierid=classifier.classifierid, mode="best", level="exact", taxonomy="elasticc2")
    assert cells == [(2222, 2222, N_OBJECTS)]

    page = client_for(plain_user).get(f"/elasticc/metrics/{classifier.classifierid}/")
    assert f'data-count="{2 * N_OBJECTS}"' in page.content.decode()
    assert "outside taxonomy: 24" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_incremental_refresh_counts_outside_ids_once():
    store_broker_messages(messages=parse_broker_messages(payloads=[broker_message_v0_9_1(1, probs=((2222, 1.0),))]))
    store_broker_messages(messages=parse_broker_messages(payloads=[broker_message_v0_9_1(2, probs=((7, 1.0),))]))
    refresh_metrics(full=True)  # the aggregate tables outlive the test framework's flush
    store_broker_messages(messages=parse_broker_messages(payloads=[broker_message_v0_9_1(3, probs=((8, 0.5),))]))
    refresh_metrics()
    assert refresh_metrics().messages == 0
    (stats,) = readers.classifier_stats().values()
    assert (stats["nmessages"], stats["noutside"]) == (3, 2)


@pytest.mark.django_db
def test_a_brokerpoll_source_chooses_the_taxonomy_of_new_classifiers():
    messages = parse_broker_messages(payloads=[broker_message_v0_9_1(1, classifier="Chosen", probs=((2222, 1.0),))])
    store_broker_messages(messages=messages, taxonomy="elasticc")
    chosen = BrokerClassifier.objects.get(classifiername="Chosen")
    assert (chosen.taxonomy, chosen.defaulttaxonomy, chosen.evaluatedtaxonomy) == ("elasticc", "elasticc2", "elasticc")


@pytest.mark.django_db(transaction=True)
def test_the_prediction_is_the_most_probable_class_inside_the_taxonomy_the_lowest_classid_on_ties():
    load_small_sim()
    probs = {
        0: ((2242, 0.4), (9999, 0.9), (2222, 0.4)),
        1: ((2223, 0.1), (2242, 0.6), (2222, 0.3)),
        2: ((9999, 1.0),),  # nothing inside the taxonomy: no prediction
    }
    payloads = [broker_message_v0_9_1(source_id(i, 0), source=source_id(i, 0), probs=p) for i, p in probs.items()]
    store_broker_messages(messages=parse_broker_messages(payloads=payloads))
    refresh_metrics(full=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT diaobjectid, latest_classid, best_classid, best_prob FROM elasticc_metricsobject")
        predictions = {row[0]: row[1:] for row in cursor.fetchall()}
    assert predictions == {
        object_id(0): (2222, 2222, pytest.approx(0.4)),
        object_id(1): (2242, 2242, pytest.approx(0.6)),
    }
    (stats,) = readers.classifier_stats().values()
    assert (stats["nmessages"], stats["noutside"]) == (3, 2)
