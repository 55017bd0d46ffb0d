"""The ELAsTiCC tables in the Django admin: data read-only, a classifier's taxonomy editable."""

from __future__ import annotations

import pytest
from django.test import Client

from elasticc.models import BrokerClassifier, DiaObject
from tests.builders import PASSWORD, broker_message_v0_9_1, load_small_sim, store_rest_messages


@pytest.fixture
def site_admin(django_user_model):
    """The site's superuser (`ensure_admin`), who works in /admin/."""
    return django_user_model.objects.create_superuser("site_admin", password=PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_admin_chooses_a_classifiers_taxonomy_and_metrics_follow(site_admin, plain_user):
    store_rest_messages([broker_message_v0_9_1(1, probs=((111, 1.0),))])
    classifier = BrokerClassifier.objects.get()
    assert classifier.evaluatedtaxonomy == "elasticc"  # 3-digit ids decide it
    staff = Client()
    staff.force_login(site_admin)
    url = f"/admin/elasticc/brokerclassifier/{classifier.classifierid}/change/"
    page = staff.get(url)
    assert page.status_code == 200
    response = staff.post(url, {"taxonomy": "elasticc2"}, follow=True)
    assert response.status_code == 200
    classifier.refresh_from_db()
    assert (classifier.taxonomy, classifier.evaluatedtaxonomy) == ("elasticc2", "elasticc2")
    assert "Metrics rebuilt in elasticc2" in response.content.decode()
    staff.post(url, {"taxonomy": ""})
    classifier.refresh_from_db()
    assert (classifier.taxonomy, classifier.evaluatedtaxonomy) == (None, "elasticc")

    others = Client()
    others.force_login(plain_user)
    assert others.get(url).status_code == 302  # not staff: to the admin login


@pytest.mark.django_db
def test_data_tables_are_read_only(site_admin):
    load_small_sim()
    staff = Client()
    staff.force_login(site_admin)
    listing = staff.get("/admin/elasticc/diaobject/")
    assert listing.status_code == 200
    assert str(DiaObject.objects.first().diaobjectid) in listing.content.decode()
    obj = DiaObject.objects.first()
    # Refused (a 403, which TOM Toolkit's middleware turns into the login page) and unchanged.
    assert staff.post(f"/admin/elasticc/diaobject/{obj.diaobjectid}/change/", {"ra": 1}).status_code in (302, 403)
    assert staff.get("/admin/elasticc/diaobject/add/").status_code in (302, 403)
    assert DiaObject.objects.get(pk=obj.pk).ra == obj.ra
