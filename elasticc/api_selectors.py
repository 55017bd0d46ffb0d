"""Read-side queries behind the REST API (`elasticc.api`).

Kept out of the views so the rules that make the API fast at a billion rows
live in one place:
- list totals never run COUNT(*) over a big table: unfiltered totals come from
  the trigger-maintained counters (`elasticc.selectors.row_count`); a filtered
  total is counted exactly only up to `EXACT_COUNT_CAP` rows (a LIMITed
  sub-select, so its cost is bounded), and beyond that PostgreSQL's planner
  estimate is returned and marked as an estimate;
- the cone search is a bounding box on the (ra, decl) index followed by an
  exact great-circle test, correct across RA 0/360 and near the poles;
- the pieces that a page of broker messages needs (its classifications) are
  fetched for the whole page in one query.
"""

import json
import math
from dataclasses import dataclass

from django.db import connection
from django.db.models import Expression, F, FloatField, Q, QuerySet, Value
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt

from elasticc.models import BrokerClassifier, ClassId, ClassIdOfGentype, GentypeOfClassId
from elasticc.selectors import row_count, row_counts

# A filtered list is counted exactly while it has at most this many rows.
EXACT_COUNT_CAP = 2000


@dataclass(frozen=True)
class ListCount:
    """The `count` of a list response; `is_estimate` marks planner estimates."""

    value: int
    is_estimate: bool


def counter_total(*, key: str) -> ListCount:
    """Exact total of a trigger-counted key (O(1) in the table size)."""
    return ListCount(value=row_count(key), is_estimate=False)


def unsent_alerts_total() -> ListCount:
    """Exact number of alerts not yet streamed: total minus sent, both counters."""
    counts = row_counts(["elasticc_diaalert", "elasticc_diaalert.sent"])
    return ListCount(value=counts["elasticc_diaalert"] - counts["elasticc_diaalert.sent"], is_estimate=False)


def planner_estimate(*, queryset: QuerySet) -> int:
    """PostgreSQL's row estimate for `queryset` (EXPLAIN only plans, never runs it)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def filtered_total(*, queryset: QuerySet, cap: int | None = None) -> ListCount:
    """Total of a filtered list at bounded cost: exact up to `cap` rows
    (default `EXACT_COUNT_CAP`), else the planner's estimate (never less than
    `cap` + 1), marked as such."""
    cap = EXACT_COUNT_CAP if cap is None else cap
    exact = queryset.order_by().values("pk")[: cap + 1].count()
    if exact <= cap:
        return ListCount(value=exact, is_estimate=False)
    return ListCount(value=max(planner_estimate(queryset=queryset), cap + 1), is_estimate=True)


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


def classifications_of_messages(*, message_ids: list[int]) -> dict[int, list[dict]]:
    """The classifications of a page of broker messages with their classifiers'
    names, grouped by message, in one query."""
    result: dict[int, list[dict]] = {message_id: [] for message_id in message_ids}
    if not message_ids:
        return result
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.brokermessageid, c.classifierid, k.brokername, k.brokerversion, k.classifiername, "
            "       k.classifierparams, c.classid, c.probability "
            "FROM elasticc_brokerclassification c "
            "JOIN elasticc_brokerclassifier k ON k.classifierid = c.classifierid "
            "WHERE c.brokermessageid = ANY(%s) "
            "ORDER BY c.brokermessageid, c.classifierid, c.classid",
            [message_ids],
        )
        for message_id, classifier_id, broker, version, name, params, class_id, probability in cursor:
            result[message_id].append(
                {
                    "classifierId": classifier_id,
                    "brokerName": broker,
                    "brokerVersion": version,
                    "classifierName": name,
                    "classifierParams": params,
                    "classId": class_id,
                    "probability": probability,
                }
            )
    return result


def taxonomy() -> list[dict]:
    """Every classId with its exact-model gentypes and its gentype match flags
    (three small tables, three queries)."""
    exact: dict[int, list[dict]] = {}
    for row in GentypeOfClassId.objects.order_by("classid", "gentype").values("classid", "gentype", "description"):
        exact.setdefault(row["classid"], []).append({"gentype": row["gentype"], "description": row["description"]})
    matches: dict[int, list[dict]] = {}
    for row in ClassIdOfGentype.objects.order_by("classid", "gentype").values(
        "classid", "gentype", "exactmatch", "categorymatch", "description"
    ):
        matches.setdefault(row["classid"], []).append(
            {
                "gentype": row["gentype"],
                "exactMatch": row["exactmatch"],
                "categoryMatch": row["categorymatch"],
                "description": row["description"],
            }
        )
    return [
        {
            "classId": row["classid"],
            "name": row["name"],
            "parent": row["parent"],
            "level": row["level"],
            "gentypes": exact.get(row["classid"], []),
            "gentypeMatches": matches.get(row["classid"], []),
        }
        for row in ClassId.objects.order_by("classid").values("classid", "name", "parent", "level")
    ]


def classifiers() -> list[dict]:
    """Every registered classifier with its exact number of classifications
    (per-classifier trigger counters: two queries in all)."""
    rows = list(
        BrokerClassifier.objects.order_by("classifierid").values(
            "classifierid", "brokername", "brokerversion", "classifiername", "classifierparams", "modified"
        )
    )
    counts = row_counts([f"elasticc_brokerclassification.{row['classifierid']}" for row in rows]) if rows else {}
    return [
        {
            "classifierId": row["classifierid"],
            "brokerName": row["brokername"],
            "brokerVersion": row["brokerversion"],
            "classifierName": row["classifiername"],
            "classifierParams": row["classifierparams"],
            "modified": row["modified"],
            "numClassifications": counts.get(f"elasticc_brokerclassification.{row['classifierid']}", 0),
        }
        for row in rows
    ]
