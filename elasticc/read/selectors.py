"""Read-side queries that pages, the REST API and commands share.

Each returns plain rows named by their SQL columns (shaping into camelCase
JSON belongs to `elasticc.api.serializers`). Per-object queries use the
object indexes (forced sources prune to one hash partition); the pieces a
page of broker messages needs (its classifications) are fetched for the whole
page in one query. Counting lives in `elasticc.read.counts`, sky geometry in
`elasticc.read.sky`.
"""

from collections.abc import Generator

from django.db import connection

from elasticc.models import BrokerClassifier, BrokerMessage, ClassId, ClassIdOfGentype, GentypeOfClassId
from elasticc.read.counts import classifications_key, row_counts
from elasticc.taxonomy.taxonomies import ELASTICC


def _rows(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _iter_rows(sql: str, params: list, batch: int = 2000) -> Generator[dict, None, None]:
    """The rows of `sql` a batch at a time through a server-side cursor (Django's
    `chunked_cursor`), for a download streamed in bounded memory. The cursor
    closes when the iterator is exhausted or closed."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield dict(zip(names, row, strict=True))


def classifiers() -> list[dict]:
    """Every registered classifier (a small table) by id, with its exact number
    of classifications from the per-classifier counters (two queries in all)."""
    rows = list(
        BrokerClassifier.objects.order_by("classifierid").values(
            "classifierid",
            "brokername",
            "brokerversion",
            "classifiername",
            "classifierparams",
            "modified",
            "taxonomy",
            "evaluatedtaxonomy",
        )
    )
    counts = row_counts([classifications_key(row["classifierid"]) for row in rows]) if rows else {}
    for row in rows:
        row["numclassifications"] = counts[classifications_key(row["classifierid"])]
    return rows


def class_names(*, taxonomy: str = ELASTICC) -> dict[int, str]:
    """classId -> name in one taxonomy (the two share only the id 0)."""
    return dict(ClassId.objects.filter(taxonomy=taxonomy).values_list("classid", "name"))


def classid_of_gentype(*, taxonomy: str = ELASTICC) -> dict[int, int]:
    """SNANA gentype -> the exact classId a perfect classifier gives it in `taxonomy`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gentype, min(classid) FROM elasticc_gentypeofclassid WHERE gentype IS NOT NULL AND taxonomy = %s "
            "GROUP BY gentype",
            [taxonomy],
        )
        return dict(cursor.fetchall())


def taxonomy() -> list[dict]:
    """Every classId of both taxonomies (each row says which) with its
    exact-model gentypes (`gentypes`) and every gentype it covers with the
    match flags (`gentype_matches`): three small tables, three queries."""
    exact: dict[tuple[str, int], list[dict]] = {}
    for row in GentypeOfClassId.objects.order_by("taxonomy", "classid", "gentype").values(
        "taxonomy", "classid", "gentype", "description"
    ):
        exact.setdefault((row.pop("taxonomy"), row.pop("classid")), []).append(row)
    matches: dict[tuple[str, int], list[dict]] = {}
    for row in ClassIdOfGentype.objects.order_by("taxonomy", "classid", "gentype").values(
        "taxonomy", "classid", "gentype", "exactmatch", "categorymatch", "generalmatch", "broadmatch", "description"
    ):
        matches.setdefault((row.pop("taxonomy"), row.pop("classid")), []).append(row)
    return [
        {
            **row,
            "gentypes": exact.get((row["taxonomy"], row["classid"]), []),
            "gentype_matches": matches.get((row["taxonomy"], row["classid"]), []),
        }
        for row in ClassId.objects.order_by("taxonomy", "classid").values(
            "taxonomy", "classid", "name", "parent", "level"
        )
    ]


def classifications_of_messages(*, message_ids: list[int]) -> dict[int, list[dict]]:
    """The classifications of a page of broker messages with their classifiers'
    names, grouped by message, in one query."""
    result: dict[int, list[dict]] = {message_id: [] for message_id in message_ids}
    if not message_ids:
        return result
    for row in _rows(
        "SELECT c.brokermessageid, c.classifierid, k.brokername, k.brokerversion, k.classifiername, "
        "       k.classifierparams, c.classid, c.probability "
        "FROM elasticc_brokerclassification c "
        "JOIN elasticc_brokerclassifier k ON k.classifierid = c.classifierid "
        "WHERE c.brokermessageid = ANY(%s) "
        "ORDER BY c.brokermessageid, c.classifierid, c.classid",
        [message_ids],
    ):
        result[row.pop("brokermessageid")].append(row)
    return result


def object_light_curve(*, diaobjectid: int) -> dict[str, list[dict]]:
    """Detections and forced photometry of one object."""
    return {
        "sources": _rows(
            "SELECT diasourceid, midpointtai, filtername, psflux, psfluxerr, snr FROM elasticc_diasource "
            "WHERE diaobjectid = %s ORDER BY midpointtai",
            [diaobjectid],
        ),
        "forced": _rows(
            "SELECT diaforcedsourceid, midpointtai, filtername, psflux, psfluxerr FROM elasticc_diaforcedsource "
            "WHERE diaobjectid = %s ORDER BY midpointtai",
            [diaobjectid],
        ),
    }


def iter_object_light_curve(*, diaobjectid: int) -> Generator[dict, None, None]:
    """`object_light_curve` as one table through a server-side cursor (its
    download): detections and forced photometry by MJD, `kind` telling which."""
    return _iter_rows(
        "SELECT 'detection' AS kind, diasourceid AS id, midpointtai, filtername, psflux, psfluxerr, snr "
        "FROM elasticc_diasource WHERE diaobjectid = %s "
        "UNION ALL SELECT 'forced', diaforcedsourceid, midpointtai, filtername, psflux, psfluxerr, NULL "
        "FROM elasticc_diaforcedsource WHERE diaobjectid = %s ORDER BY midpointtai, kind, id",
        [diaobjectid, diaobjectid],
    )


OBJECT_ALERTS_SQL = (
    "SELECT a.alertid, a.diasourceid, s.midpointtai, s.filtername, a.alertsenttimestamp "
    "FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
    "WHERE a.diaobjectid = %s ORDER BY s.midpointtai, a.alertid"
)
OBJECT_CLASSIFICATIONS_SQL = (
    "SELECT bc.classifierid, m.brokermessageid, m.alertid, s.midpointtai, m.descingesttimestamp, "
    "bc.classid, bc.probability "
    "FROM elasticc_diaalert a "
    "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
    "JOIN elasticc_brokermessage m ON m.alertid = a.alertid "
    "JOIN elasticc_brokerclassification bc ON bc.brokermessageid = m.brokermessageid "
    "WHERE a.diaobjectid = %s ORDER BY bc.classifierid, s.midpointtai, m.brokermessageid, bc.classid"
)


def object_alerts(*, diaobjectid: int) -> list[dict]:
    """The alerts of one object with their sources' times and sent times."""
    return _rows(OBJECT_ALERTS_SQL, [diaobjectid])


def iter_object_alerts(*, diaobjectid: int) -> Generator[dict, None, None]:
    """`object_alerts` through a server-side cursor (its download)."""
    return _iter_rows(OBJECT_ALERTS_SQL, [diaobjectid])


def object_classifications(*, diaobjectid: int) -> list[dict]:
    """Every classification of every alert of one object (alert index, then
    the message and classification indexes)."""
    return _rows(OBJECT_CLASSIFICATIONS_SQL, [diaobjectid])


def iter_object_classifications(*, diaobjectid: int) -> Generator[dict, None, None]:
    """`object_classifications` through a server-side cursor (its download:
    an object's classifications grow with its alerts and classifiers)."""
    return _iter_rows(OBJECT_CLASSIFICATIONS_SQL, [diaobjectid])


def object_truth(*, diaobjectid: int) -> dict | None:
    """The object's SNANA truth row with its true classId, or None."""
    rows = _rows(
        "SELECT t.*, (SELECT min(g.classid) FROM elasticc_gentypeofclassid g "
        "WHERE g.gentype = t.gentype AND g.taxonomy = %s) "
        "AS trueclassid FROM elasticc_diaobjecttruth t WHERE t.diaobjectid = %s",
        [ELASTICC, diaobjectid],
    )
    return rows[0] if rows else None


def classes_with_gentypes(*, taxonomy: str) -> list[dict]:
    """Every class of `taxonomy` with the gentypes it covers and its match
    flags (one row per class, classes without a gentype included): the
    original `/elasticc2/classids` answer, in one query."""
    return _rows(
        "SELECT c.classid, c.name, COALESCE(array_agg(m.gentype ORDER BY m.gentype) "
        "  FILTER (WHERE m.gentype IS NOT NULL), '{}') AS gentypes, "
        "COALESCE(bool_or(m.exactmatch), false) AS exactmatch, "
        "COALESCE(bool_or(m.categorymatch), false) AS categorymatch, "
        "COALESCE(bool_or(m.generalmatch), false) AS generalmatch, "
        "COALESCE(bool_or(m.broadmatch), false) AS broadmatch "
        "FROM elasticc_classid c LEFT JOIN elasticc_classidofgentype m "
        "  ON m.taxonomy = c.taxonomy AND m.classid = c.classid "
        "WHERE c.taxonomy = %s GROUP BY c.classid, c.name ORDER BY c.classid",
        [taxonomy],
    )


def broker_message_ids_of_alert(*, alertid: int) -> list[int]:
    """The broker messages about one alert (index on alertid)."""
    return list(BrokerMessage.objects.filter(alertid=alertid).order_by("pk").values_list("pk", flat=True))
