"""Sky geometry on querysets of rows with `ra`, `decl` in degrees: cone and box searches.

The cone search is a bounding box on the (ra, decl) index followed by an
exact great-circle test, correct across RA 0/360 and near the poles.
"""

import math

from django.db.models import Expression, F, FloatField, Q, QuerySet, Value
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt


def _great_circle_degrees(*, ra: float, dec: float) -> Expression:
    """Haversine angular distance (degrees) from (ra, dec) to each row's (ra, decl);
    numerically stable at small separations, clamped against rounding above 1."""
    ddec = (Radians(F("decl")) - Value(math.radians(dec))) / Value(2.0)
    dra = (Radians(F("ra")) - Value(math.radians(ra))) / Value(2.0)
    hav = Power(Sin(ddec), 2) + Value(math.cos(math.radians(dec))) * Cos(Radians(F("decl"))) * Power(Sin(dra), 2)
    return ASin(Least(Sqrt(hav), Value(1.0), output_field=FloatField())) * Value(2.0 * 180.0 / math.pi)


def cone_filter(*, queryset: QuerySet, ra: float, dec: float, radius: float) -> QuerySet:
    """Rows of `queryset` (with `ra`, `decl` in degrees) within `radius` degrees of (ra, dec).

    The bounding box lets PostgreSQL use the (ra, decl) index: declination
    dec ± radius; right ascension ra ± asin(sin r / cos dec), which is the
    exact half-width of a cone's RA extent, split in two ranges when it
    crosses RA = 0/360, and the whole RA circle when the cone holds a pole.
    The great-circle test then removes the box's corners.
    """
    ra = ra % 360.0
    dec_lo, dec_hi = dec - radius, dec + radius
    queryset = queryset.filter(decl__gte=max(dec_lo, -90.0), decl__lte=min(dec_hi, 90.0))
    if dec_hi < 90.0 and dec_lo > -90.0 and radius < 90.0:
        half_width = math.degrees(math.asin(min(1.0, math.sin(math.radians(radius)) / math.cos(math.radians(dec)))))
        if half_width < 180.0:
            ra_lo, ra_hi = ra - half_width, ra + half_width
            if ra_lo < 0.0:
                queryset = queryset.filter(Q(ra__gte=ra_lo + 360.0) | Q(ra__lte=ra_hi))
            elif ra_hi >= 360.0:
                queryset = queryset.filter(Q(ra__gte=ra_lo) | Q(ra__lte=ra_hi - 360.0))
            else:
                queryset = queryset.filter(ra__gte=ra_lo, ra__lte=ra_hi)
    return queryset.alias(_separation=_great_circle_degrees(ra=ra, dec=dec)).filter(_separation__lte=radius)


def box_filter(
    *,
    queryset: QuerySet,
    ra_min: float | None,
    ra_max: float | None,
    dec_min: float | None,
    dec_max: float | None,
) -> QuerySet:
    """Rows inside an RA/Dec box; `ra_min` > `ra_max` means the box crosses RA = 0/360."""
    if dec_min is not None:
        queryset = queryset.filter(decl__gte=dec_min)
    if dec_max is not None:
        queryset = queryset.filter(decl__lte=dec_max)
    if ra_min is not None and ra_max is not None and ra_min > ra_max:
        return queryset.filter(Q(ra__gte=ra_min) | Q(ra__lte=ra_max))
    if ra_min is not None:
        queryset = queryset.filter(ra__gte=ra_min)
    if ra_max is not None:
        queryset = queryset.filter(ra__lte=ra_max)
    return queryset
