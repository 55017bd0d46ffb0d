"""elasticc.read.sky: cone and box searches, correct across RA 0/360 and near the poles."""

import pytest
from django.db import connection

from elasticc.models import DiaObject
from elasticc.read.sky import box_filter, cone_filter
from tests.builders import add_objects

pytestmark = pytest.mark.django_db


def _ids(queryset) -> list[int]:
    return sorted(queryset.values_list("diaobjectid", flat=True))


def test_cone_filter_across_ra_zero_and_near_poles():
    add_objects(
        [
            (1, 359.9, 0.0),  # 0.1 deg west of RA 0
            (2, 0.05, 0.0),
            (3, 0.19, 0.19),  # inside the bounding box, outside the cone (0.27 deg)
            (4, 10.0, 0.0),
            (11, 0.0, 89.9),  # around the north pole
            (12, 180.0, 89.9),
            (13, 90.0, 89.95),
            (14, 0.0, 89.5),
            (21, 5.0, 80.0),  # 0.87 deg from (0, 80): an RA box of +-1 deg would miss it
            (22, 0.0, 81.1),
            (31, 200.0, -89.99),
        ]
    )

    def cone(ra, dec, radius):
        return _ids(cone_filter(queryset=DiaObject.objects.all(), ra=ra, dec=dec, radius=radius))

    assert cone(0, 0, 0.2) == [1, 2]
    assert cone(359.99, 0, 0.2) == [1, 2]
    assert cone(45, 89.95, 0.2) == [11, 12, 13]
    assert cone(0, 80, 1.0) == [21]
    assert cone(20, -90, 0.05) == [31]


def test_box_filter_wraps_through_ra_zero():
    add_objects([(1, 359.5, 1.0), (2, 0.5, 1.0), (3, 180.0, 1.0), (4, 0.5, 5.0)])
    box = box_filter(queryset=DiaObject.objects.all(), ra_min=359, ra_max=1, dec_min=0, dec_max=2)
    assert _ids(box) == [1, 2]


def test_cone_filter_uses_the_radec_index():
    add_objects([(i, (i * 7.3) % 360, (i * 3.1) % 170 - 85) for i in range(1, 2001)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE elasticc_diaobject")
    queryset = cone_filter(queryset=DiaObject.objects.all(), ra=10, dec=5, radius=1)
    plan = queryset.explain()
    assert "elasticc_diaobject_radec" in plan, plan
