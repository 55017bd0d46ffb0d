"""Both taxonomies side by side, and each classifier evaluated in its own."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from elasticc.brokers.parsing import parse_broker_messages
from elasticc.brokers.storage import store_broker_messages
from elasticc.metrics import readers
from elasticc.metrics.refresh import refresh_metrics
from elasticc.models import BrokerClassifier, ClassId, ClassIdOfGentype, GentypeOfClassId
from elasticc.taxonomy.taxonomies import default_taxonomy
from tests.builders import N_OBJECTS, T0, broker_message_v0_9_1, load_small_sim, source_id


def v0_9_message(alert: int, classifications: list[tuple[int, float]]) -> dict:
    return {
        "alertId": alert,
        "diaSourceId": alert,
        "elasticcPublishTimestamp": T0,
        "brokerIngestTimestamp": T0 + 1,
        "brokerName": "OldBroker",
        "brokerVersion": "0.9",
        "classifications": [
            {"classifierName": "Old", "classifierParams": "", "classId": c, "probability": p}
            for c, p in classifications
        ],
    }


def store(payloads: list[dict]) -> None:
    store_broker_messages(messages=parse_broker_messages(payloads=payloads))


@pytest.mark.django_db
def test_both_taxonomies_are_loaded_with_their_row_counts():
    for taxonomy, counts in (("elasticc", (35, 47, 93)), ("elasticc2", (42, 54, 124))):
        got = tuple(m.objects.filter(taxonomy=taxonomy).count() for m in (ClassId, GentypeOfClassId, ClassIdOfGentype))
        assert got == counts
    ia = ClassIdOfGentype.objects.get(taxonomy="elasticc2", classid=2222, gentype=10)
    assert (ia.exactmatch, ia.categorymatch, ia.generalmatch, ia.broadmatch) == (True, True, True, True)
    general = ClassIdOfGentype.objects.get(taxonomy="elasticc2", classid=2200, gentype=10)
    assert (general.exactmatch, general.categorymatch, general.generalmatch, general.broadmatch) == (
        False, False, True, True,
    )  # fmt: skip
    assert ClassId.objects.get(taxonomy="elasticc2", classid=2222).parent == 2220
    assert set(ClassId.objects.filter(classid=0).values_list("taxonomy", "name")) == {
        ("elasticc", "Static/Other"),
        ("elasticc2", "Meta"),
    }


def test_default_rule():
    assert default_taxonomy(schema_version="v0_9", classids=[111, 131]) == "elasticc"
    assert default_taxonomy(schema_version="v0_9_1", classids=[2222]) == "elasticc2"
    # The classIds all in the other taxonomy win over the schema version.
    assert default_taxonomy(schema_version="v0_9_1", classids=[111, 112]) == "elasticc"
    assert default_taxonomy(schema_version="v0_9", classids=[2222]) == "elasticc2"
    # Ids in neither (or a mix) leave the schema's choice.
    assert default_taxonomy(schema_version="v0_9_1", classids=[2222, 111]) == "elasticc2"
    assert default_taxonomy(schema_version="v0_9", classids=[9999]) == "elasticc"


def test_class_at_level_in_each_taxonomy():
    assert [readers.class_at_level(2222, lv, taxonomy="elasticc2") for lv in readers.LEVELS] == [
        2222, 2220, 2200, 2000,
    ]  # fmt: skip
    assert [readers.class_at_level(111, lv) for lv in ("exact", "category", "broad")] == [111, 11, 1]
    assert readers.levels_of("elasticc") == ("exact", "category", "broad")
    assert readers.levels_of("elasticc2") == ("exact", "category", "general", "broad")
    with pytest.raises(KeyError):
        readers.class_at_level(111, "general", taxonomy="elasticc")


@pytest.mark.django_db(transaction=True)
def test_two_classifiers_each_evaluated_in_its_own_taxonomy(client_for, plain_user, admin_user):
    load_small_sim()  # N_OBJECTS objects, all of truth gentype 10 (SN Ia)
    alerts = [source_id(i, 0) for i in range(N_OBJECTS)]
    store([v0_9_message(a, [(111, 0.75), (113, 0.25)]) for a in alerts])
    store([broker_message_v0_9_1(a, source=a, probs=((2222, 0.25), (2224, 0.75))) for a in alerts])
    refresh_metrics(full=True)

    old = BrokerClassifier.objects.get(classifiername="Old")
    new = BrokerClassifier.objects.get(classifiername="NugentClassifier")
    assert (old.taxonomy, old.evaluatedtaxonomy) == (None, "elasticc")
    assert (new.taxonomy, new.evaluatedtaxonomy) == (None, "elasticc2")

    assert readers.confusion(classifierid=old.classifierid, mode="latest", level="exact") == [(111, 111, N_OBJECTS)]
    assert readers.confusion(classifierid=new.classifierid, mode="latest", level="exact", taxonomy="elasticc2") == [
        (2222, 2224, N_OBJECTS)
    ]
    assert readers.confusion(classifierid=new.classifierid, mode="latest", level="general", taxonomy="elasticc2") == [
        (2200, 2200, N_OBJECTS)
    ]
    stats = readers.classifier_stats()
    assert stats[old.classifierid]["noutside"] == stats[new.classifierid]["noutside"] == 0

    # REST and pages say which taxonomy each is evaluated in.
    client = client_for(plain_user)
    by_name = {c["classifierName"]: c for c in client.get("/elasticc/classifiers/").json()}
    assert (by_name["Old"]["taxonomy"], by_name["NugentClassifier"]["taxonomy"]) == ("elasticc", "elasticc2")
    assert by_name["Old"]["taxonomyChosen"] is None
    classids = client.get("/elasticc/classids/").json()
    assert {(r["taxonomy"], r["classId"]) for r in classids} >= {("elasticc", 111), ("elasticc2", 2222)}
    page = client.get(f"/elasticc/metrics/{new.classifierid}/", {"level": "general"})
    assert page.status_code == 200
    assert "ELAsTiCC2" in page.content.decode()
    # The level picks truth-derived charts, so it is checked for those who see them.
    assert client_for(admin_user).get(f"/elasticc/metrics/{old.classifierid}/", {"level": "general"}).status_code == 400

    # An admin moves the v0_9_1 classifier to ELAsTiCC: its 4-digit ids are now outside.
    out = io.StringIO()
    call_command("set_classifier_taxonomy", str(new.classifierid), "elasticc", stdout=out)
    assert "evaluated in ELAsTiCC (3-digit)" in out.getvalue()
    assert readers.classifier_stats()[new.classifierid]["noutside"] == 2 * N_OBJECTS
    assert readers.confusion(classifierid=new.classifierid, mode="latest", level="exact") == []
    call_command("set_classifier_taxonomy", str(new.classifierid), "default", stdout=io.StringIO())
    assert BrokerClassifier.objects.get(pk=new.classifierid).evaluatedtaxonomy == "elasticc2"
