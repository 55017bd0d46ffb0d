"""The follow-up tables: who reads them over SQL, and their admin pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from elasticc.followup import services
from elasticc.models import PlannedSpectrum, SpectrumInfo, WantedSpectrum
from tests.builders import PASSWORD, add_objects

TABLES = ("elasticc_wantedspectrum", "elasticc_plannedspectrum", "elasticc_spectruminfo")


@pytest.mark.django_db
def test_both_sql_roles_read_the_followup_tables_and_neither_writes():
    with connection.cursor() as cursor:
        for role in (settings.SQL_BROKER_ROLE, settings.SQL_ADMIN_ROLE):
            for table in TABLES:
                cursor.execute("SELECT has_table_privilege(%s, %s, 'SELECT'), has_table_privilege(%s, %s, 'INSERT')",
                               [role, table, role, table])  # fmt: skip
                assert cursor.fetchone() == (True, False), (role, table)
        cursor.execute("SELECT has_table_privilege(%s, 'elasticc_diatruth', 'SELECT')", [settings.SQL_BROKER_ROLE])
        assert cursor.fetchone() == (False,)


@pytest.mark.django_db
def test_services_keep_one_row_per_object_and_requester_or_facility(plain_user):
    add_objects([(7001, 10.0, -5.0), (7002, 11.0, -6.0)])
    assert (
        services.ask_for_spectra(user=plain_user, requester="R", objectids=[7001, 7001, 7002], priorities=[1, 4, 7])
        == 2
    )
    assert dict(WantedSpectrum.objects.values_list("diaobject_id", "priority")) == {7001: 4, 7002: 5}
    services.ask_for_spectra(user=plain_user, requester="R", objectids=[7001], priorities=[0])
    assert WantedSpectrum.objects.get(diaobject_id=7001).priority == 0
    services.plan_spectrum(user=plain_user, objectid=7001, facility="G", plantime=datetime(2024, 9, 1, tzinfo=UTC))
    services.plan_spectrum(user=plain_user, objectid=7001, facility="G", plantime=datetime(2024, 9, 2, tzinfo=UTC))
    assert PlannedSpectrum.objects.get().plantime.day == 2
    services.report_spectrum(user=plain_user, objectid=7001, facility="G", mjd=60500.0, z=None, classid=300)
    assert not PlannedSpectrum.objects.exists()
    assert SpectrumInfo.objects.get().z is None
    with pytest.raises(services.UnknownObjects, match="7003"):
        services.ask_for_spectra(user=plain_user, requester="R", objectids=[7003], priorities=[1])


@pytest.mark.django_db
def test_admin_pages_of_the_followup_tables(django_user_model, plain_user):
    add_objects([(7001, 10.0, -5.0)])
    services.ask_for_spectra(user=plain_user, requester="RESSPECT", objectids=[7001], priorities=[3])
    admin = django_user_model.objects.create_superuser("site_admin", password=PASSWORD)
    client = Client()
    client.force_login(admin)
    for model in ("wantedspectrum", "plannedspectrum", "spectruminfo"):
        assert client.get(f"/admin/elasticc/{model}/").status_code == 200
    assert "RESSPECT" in client.get("/admin/elasticc/wantedspectrum/").content.decode()
