"""Two evaluation aggregates of issue 13, kept by `elasticc.metrics.refresh`:

- The prediction of each (classifier, object) at N days after the object's
  first detection, for N in DAYS (1, 3, 10, 30): the top class of the
  classifier's latest classification, by the MJD of the alert's source (then
  brokermessageid), among its messages about alerts whose source MJD <=
  first detection MJD + N, i.e. what the classifier said with the data of
  the first N days. Four columns per N on `elasticc_metricsobject`
  (`days<N>_mjd`, `days<N>_msgid`, `days<N>_classid`, `days<N>_prob`; NULL
  while the classifier has no such classification), confusion rows with
  `mode` 100 + N in `elasticc_metricsconfusion` (101, 103, 110, 130), and
  an index per N that finds the objects of one confusion cell in
  diaObjectId order (the object browser's drill-down), as for latest / best.
- metricsclassifiednight: sent alerts a classifier answered per simulated
  night (floor of the MJD of the alert's source), each alert counted once
  per classifier however many messages it got: the numerator of
  completeness by simulated night (the denominator is
  `elasticc_metricsalertsnight` summed over sent days).

All are filled from the existing rows here, as a full refresh would, up to
the refresh watermark (`elasticc_metricsstate.messages_upto`); the
statements are kept in BACKFILL_SQL so a test can check them against a full
refresh. Scans every classification once: run it when the metrics may lag.
"""

from django.db import migrations

DAYS = (1, 3, 10, 30)

COLUMNS_SQL = "ALTER TABLE elasticc_metricsobject " + ", ".join(
    f"ADD COLUMN days{n}_mjd double precision NULL, ADD COLUMN days{n}_msgid bigint NULL, "
    f"ADD COLUMN days{n}_classid integer NULL, ADD COLUMN days{n}_prob real NULL"
    for n in DAYS
)

INDEXES_SQL = [
    f"CREATE INDEX elasticc_metricsobject_days{n}_cell ON elasticc_metricsobject "
    f"(classifierid, trueclassid, days{n}_classid, diaobjectid)"
    for n in DAYS
]

NIGHT_TABLE_SQL = """
CREATE TABLE elasticc_metricsclassifiednight (
    classifierid integer NOT NULL,
    night integer NOT NULL,
    nalerts bigint NOT NULL,
    PRIMARY KEY (classifierid, night)
)
"""

_SET = ", ".join(
    f"days{n}_mjd = p.mjd{n}, days{n}_msgid = p.msg{n}, days{n}_classid = p.cls{n}, days{n}_prob = p.prob{n}"
    for n in DAYS
)
# One row per (classifier, object, N) in `pick`: the values of each N as columns.
_PIVOT = ", ".join(
    f"max(mjd) FILTER (WHERE n = {n}) AS mjd{n}, max(brokermessageid) FILTER (WHERE n = {n}) AS msg{n}, "
    f"max(classid) FILTER (WHERE n = {n}) AS cls{n}, max(probability) FILTER (WHERE n = {n}) AS prob{n}"
    for n in DAYS
)
_UPTO = "(SELECT messages_upto FROM elasticc_metricsstate WHERE id = 1)"
_VALUES = ", ".join(f"({n})" for n in DAYS)

BACKFILL_SQL = [
    # Per (classifier, message): the top class in the classifier's taxonomy and
    # the MJD of the alert's source; per N the latest such message within N days
    # of the object's first detection (as stored with its other per-object state).
    f"""
    WITH top AS (
        SELECT DISTINCT ON (c.brokermessageid, c.classifierid) c.classifierid, c.brokermessageid, c.classid,
               c.probability
        FROM elasticc_brokerclassification c
        JOIN elasticc_brokerclassifier k ON k.classifierid = c.classifierid
        JOIN elasticc_classid t ON t.taxonomy = k.evaluatedtaxonomy AND t.classid = c.classid
        WHERE c.brokermessageid <= {_UPTO}
        ORDER BY c.brokermessageid, c.classifierid, c.probability DESC, c.classid
    ), msg AS (
        SELECT top.*, a.diaobjectid, s.midpointtai AS mjd
        FROM top
        JOIN elasticc_brokermessage m ON m.brokermessageid = top.brokermessageid
        JOIN elasticc_diaalert a ON a.alertid = m.alertid
        JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid
    ), pick AS (
        SELECT DISTINCT ON (g.classifierid, g.diaobjectid, w.n) g.classifierid, g.diaobjectid, w.n, g.mjd,
               g.brokermessageid, g.classid, g.probability
        FROM msg g
        JOIN elasticc_metricsobject o ON o.classifierid = g.classifierid AND o.diaobjectid = g.diaobjectid
        CROSS JOIN (VALUES {_VALUES}) AS w(n)
        WHERE g.mjd <= o.firstdet + w.n
        ORDER BY g.classifierid, g.diaobjectid, w.n, g.mjd DESC, g.brokermessageid DESC
    )
    UPDATE elasticc_metricsobject o SET {_SET}
    FROM (
        SELECT classifierid, diaobjectid, {_PIVOT}
        FROM pick GROUP BY classifierid, diaobjectid
    ) p
    WHERE o.classifierid = p.classifierid AND o.diaobjectid = p.diaobjectid
    """,
    "INSERT INTO elasticc_metricsconfusion (classifierid, mode, trueclassid, predclassid, n) "
    + " UNION ALL ".join(
        f"SELECT classifierid, {100 + n}, trueclassid, days{n}_classid, count(*) FROM elasticc_metricsobject "
        f"WHERE trueclassid IS NOT NULL AND days{n}_classid IS NOT NULL GROUP BY 1, 3, 4"
        for n in DAYS
    ),
    f"""
    INSERT INTO elasticc_metricsclassifiednight (classifierid, night, nalerts)
    SELECT x.classifierid, floor(s.midpointtai)::integer, count(*)
    FROM (
        SELECT DISTINCT c.classifierid, m.alertid
        FROM elasticc_brokerclassification c
        JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid
        WHERE c.brokermessageid <= {_UPTO}
    ) x
    JOIN elasticc_diaalert a ON a.alertid = x.alertid AND a.alertsenttimestamp IS NOT NULL
    JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid
    GROUP BY 1, 2
    """,
]

BACKWARD_SQL = [
    f"DELETE FROM elasticc_metricsconfusion WHERE mode IN ({', '.join(str(100 + n) for n in DAYS)})",
    "DROP TABLE elasticc_metricsclassifiednight",
    *(f"DROP INDEX elasticc_metricsobject_days{n}_cell" for n in DAYS),
    "ALTER TABLE elasticc_metricsobject "
    + ", ".join(
        f"DROP COLUMN days{n}_mjd, DROP COLUMN days{n}_msgid, DROP COLUMN days{n}_classid, DROP COLUMN days{n}_prob"
        for n in DAYS
    ),
]


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0016_classification_natural_key")]

    operations = [
        migrations.RunSQL([COLUMNS_SQL, NIGHT_TABLE_SQL, *BACKFILL_SQL, *INDEXES_SQL], BACKWARD_SQL),
    ]
