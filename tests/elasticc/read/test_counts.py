"""elasticc.read.counts.list_total: counters for whole tables, exact counts
of small filtered lists, marked planner estimates beyond the cap."""

import pytest

from elasticc.models import DiaSource
from elasticc.read.counts import ALERTS_SENT_KEY, ListCount, list_total
from tests.builders import N_OBJECTS, SOURCES_PER_OBJECT, load_small_sim, object_id

pytestmark = pytest.mark.django_db


def test_list_total_from_counters_exact_or_marked_estimate():
    load_small_sim()
    n_sources = N_OBJECTS * SOURCES_PER_OBJECT
    assert list_total(key="elasticc_diasource") == ListCount(value=n_sources, is_estimate=False)
    assert list_total(key="elasticc_diaalert", minus_key=ALERTS_SENT_KEY) == ListCount(
        value=n_sources - N_OBJECTS, is_estimate=False
    )
    one_object = DiaSource.objects.filter(diaobject_id=object_id(1))
    assert list_total(queryset=one_object, cap=5) == ListCount(value=SOURCES_PER_OBJECT, is_estimate=False)
    estimate = list_total(queryset=DiaSource.objects.filter(midpointtai__gte=60000), cap=5)
    assert estimate.is_estimate
    assert estimate.value > 5
    with pytest.raises(ValueError, match="counter key or a queryset"):
        list_total()
