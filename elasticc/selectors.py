"""Read-side queries of the ELAsTiCC app that views and commands share."""

from django.db import connection

# Tables whose exact row count is kept by triggers (migration 0003), with the
# label shown to users.
COUNTED_TABLES: dict[str, str] = {
    "elasticc_diaobject": "Objects",
    "elasticc_diasource": "Sources",
    "elasticc_diaforcedsource": "Forced sources",
    "elasticc_diaalert": "Alerts",
    "elasticc_brokermessage": "Broker messages",
    "elasticc_brokerclassification": "Classifications",
}
ALERTS_SENT_KEY = "elasticc_diaalert.sent"


def row_counts(keys: list[str]) -> dict[str, int]:
    """Exact counts for trigger-maintained keys, in one indexed query
    (O(number of uncompacted deltas), never a scan of the counted table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, COALESCE(SUM(delta), 0) FROM elasticc_rowcountdelta "
            "WHERE key = ANY(%s) GROUP BY key",
            [keys],
        )
        found = dict(cursor.fetchall())
    return {key: int(found.get(key, 0)) for key in keys}


def row_count(key: str) -> int:
    """Exact count of a table (or other trigger-maintained key)."""
    return row_counts([key])[key]


def table_counts() -> list[tuple[str, int]]:
    """(label, count) for the front page, including alerts sent."""
    counts = row_counts([*COUNTED_TABLES, ALERTS_SENT_KEY])
    rows = [(label, counts[table]) for table, label in COUNTED_TABLES.items()]
    rows.insert(4, ("Alerts sent", counts[ALERTS_SENT_KEY]))
    return rows


# --- pages: classifiers, objects, search --------------------------------------------------


def is_elasticc_admin(user) -> bool:
    """Whether `user` may see truth and the admin pages (group elasticc_admin)."""
    return bool(user.is_authenticated and user.groups.filter(name="elasticc_admin").exists())


def classifiers() -> list[dict]:
    """All registered classifiers (a small table), ordered for display."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classifierid, brokername, brokerversion, classifiername, classifierparams "
            "FROM elasticc_brokerclassifier ORDER BY brokername, brokerversion, classifiername, classifierparams"
        )
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def class_names() -> dict[int, str]:
    """classId -> taxonomy name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT classid, name FROM elasticc_classid")
        return dict(cursor.fetchall())


def classid_of_gentype() -> dict[int, int]:
    """SNANA gentype -> the exact classId a perfect classifier gives it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gentype, min(classid) FROM elasticc_gentypeofclassid WHERE gentype IS NOT NULL GROUP BY gentype"
        )
        return dict(cursor.fetchall())


def _rows(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def object_light_curve(*, diaobjectid: int) -> dict[str, list[dict]]:
    """Detections and forced photometry of one object (index scans on the
    object; forced sources prune to one hash partition)."""
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


def object_alerts(*, diaobjectid: int) -> list[dict]:
    """The alerts of one object with their sources' times and sent times."""
    return _rows(
        "SELECT a.alertid, a.diasourceid, s.midpointtai, s.filtername, a.alertsenttimestamp "
        "FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
        "WHERE a.diaobjectid = %s ORDER BY s.midpointtai, a.alertid",
        [diaobjectid],
    )


def object_classifications(*, diaobjectid: int) -> list[dict]:
    """Every classification of every alert of one object (alert index, then
    the message and classification indexes)."""
    return _rows(
        "SELECT bc.classifierid, m.brokermessageid, m.alertid, s.midpointtai, m.descingesttimestamp, "
        "bc.classid, bc.probability "
        "FROM elasticc_diaalert a "
        "JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid "
        "JOIN elasticc_brokermessage m ON m.alertid = a.alertid "
        "JOIN elasticc_brokerclassification bc ON bc.brokermessageid = m.brokermessageid "
        "WHERE a.diaobjectid = %s ORDER BY bc.classifierid, s.midpointtai, m.brokermessageid, bc.classid",
        [diaobjectid],
    )


def object_truth(*, diaobjectid: int) -> dict | None:
    """The object's SNANA truth row with its true classId, or None."""
    rows = _rows(
        "SELECT t.*, (SELECT min(g.classid) FROM elasticc_gentypeofclassid g WHERE g.gentype = t.gentype) "
        "AS trueclassid FROM elasticc_diaobjecttruth t WHERE t.diaobjectid = %s",
        [diaobjectid],
    )
    return rows[0] if rows else None
