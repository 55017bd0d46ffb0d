"""The sample with its alerts through MJD 60578 marked sent (as
`send_elasticc_alerts -d 60578` marks them), loaded once per module; each
test's own writes roll back with its `db` transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.builders import SAMPLE_TABLES, load_sample, mark_sent, wipe

THROUGH_MJD = 60578.0
SENT_AT = datetime(2024, 9, 1, tzinfo=UTC)


def alerts_through(mjd: float) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.alertid FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
            "WHERE s.midpointtai <= %s",
            [mjd],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def sent_sample(shared_dir, django_db_setup, django_db_blocker):
    """{"alerts": number marked sent}."""
    with django_db_blocker.unblock():
        wipe(["elasticc_wantedspectrum", "elasticc_plannedspectrum", "elasticc_spectruminfo"])
        wipe([table for table, _ in reversed(SAMPLE_TABLES)])
        load_sample(shared_dir, unsent=True)
        sent = mark_sent(dict.fromkeys(alerts_through(THROUGH_MJD), SENT_AT))
        yield {"alerts": sent}
        wipe(["elasticc_wantedspectrum", "elasticc_plannedspectrum", "elasticc_spectruminfo"])
        wipe([table for table, _ in reversed(SAMPLE_TABLES)])
