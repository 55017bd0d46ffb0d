"""Fixtures of the elasticc tests."""

from __future__ import annotations

import pytest

from elasticc.metrics.refresh import refresh_metrics
from tests.builders import load_metrics_data, wipe_metrics_data


@pytest.fixture(scope="module")
def fixture_ids(django_db_setup, django_db_blocker):
    """The hand-made metrics data set (tests.builders), loaded once for the
    module's read-only tests, metrics refreshed; {"A": id, "B": id}."""
    with django_db_blocker.unblock():
        wipe_metrics_data()
        ids = load_metrics_data()
        refresh_metrics(full=True)
        yield ids
        wipe_metrics_data()
