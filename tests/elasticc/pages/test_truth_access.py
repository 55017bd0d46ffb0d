"""Who sees what the pages derive from truth (SECURITY.md): elasticc_admin
members, or everyone once ELASTICC_TRUTH_PUBLIC opens it after a challenge.

The attack: a broker PUTs one message about one object under a fresh
classifier; once the metrics refresh, that classifier's confusion matrix has
one row, the object's true class.
"""

from __future__ import annotations

import pytest

from elasticc.metrics.refresh import refresh_metrics
from elasticc.models import BrokerClassifier
from tests.builders import add_metrics_objects, alert_id, broker_message_v0_9_1

TRUTH_KEYS = {"confusion", "trueprob", "class_names"}


def _metrics_page(client, classifierid: int, query: str = ""):
    response = client.get(f"/elasticc/metrics/{classifierid}/{query}")
    assert response.status_code == 200, response.content
    return response


@pytest.mark.django_db(transaction=True)
def test_broker_cannot_read_truth_of_an_object_it_classified_alone(client_for, broker_user):
    add_metrics_objects()  # object 1003 is of true class 122, its first alert sent
    alert = alert_id(1003, 0)
    broker = client_for(broker_user)
    probe = broker_message_v0_9_1(alert, source=alert, classifier="probe", probs=((111, 1.0),))
    assert broker.put("/elasticc/brokermessage/", probe, format="json").status_code == 201
    refresh_metrics()
    classifierid = BrokerClassifier.objects.get(classifiername="probe").classifierid

    for query in ("", "?mode=best&level=exact&norm=none"):
        response = _metrics_page(broker, classifierid, query)
        charts = response.context["charts"]
        assert not TRUTH_KEYS & set(charts)
        html = response.content.decode()
        assert 'id="chart-confusion"' not in html
        assert 'id="chart-trueprob"' not in html
        assert '"122"' not in html
        assert 'id="truth-hidden"' in html
        # The controls of the confusion matrix are gone too.
        assert 'name="norm"' not in html
    # What is not truth stays visible: delays and message counts.
    assert charts["delays"]
    assert response.context["stats"]["nmessages"] == 1


@pytest.mark.django_db
def test_truth_charts_by_role(client_for, plain_user, broker_user, admin_user, fixture_ids):
    a = fixture_ids["A"]
    for user in (plain_user, broker_user):
        charts = _metrics_page(client_for(user), a).context["charts"]
        assert not TRUTH_KEYS & set(charts)
        assert sum(row["sent"] for row in charts["completeness"]) == 7
        assert set(charts["delays"]["counts"]) == {"broker", "ours", "total"}
    charts = _metrics_page(client_for(admin_user), a).context["charts"]
    assert set(charts) >= TRUTH_KEYS
    assert charts["confusion"]["objects"] == 3


@pytest.mark.django_db
def test_non_admin_truth_choices_are_ignored_not_an_error(client_for, plain_user, fixture_ids):
    """Bookmarked URLs with the admin-only choices still open (the choices do nothing)."""
    response = _metrics_page(client_for(plain_user), fixture_ids["A"], "?mode=best&level=species&period=week")
    assert response.context["params"]["period"] == "week"


@pytest.mark.django_db
def test_truth_public_opens_truth_pages(client_for, plain_user, broker_user, fixture_ids, settings):
    settings.ELASTICC_TRUTH_PUBLIC = True
    for user in (plain_user, broker_user):
        client = client_for(user)
        assert set(_metrics_page(client, fixture_ids["A"]).context["charts"]) >= TRUTH_KEYS
        assert client.get("/elasticc/summary/truth/").status_code == 200
        assert 'href="/elasticc/summary/truth/"' in client.get("/elasticc/").content.decode()
        assert client.get("/elasticc/object/1001/").context["charts"]["trueclassid"] == 111


@pytest.mark.django_db
def test_truth_public_still_needs_login(client, fixture_ids, settings):
    settings.ELASTICC_TRUTH_PUBLIC = True
    for url in (f"/elasticc/metrics/{fixture_ids['A']}/", "/elasticc/summary/truth/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
