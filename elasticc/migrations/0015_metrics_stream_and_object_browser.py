"""Aggregates of the stream status page (`/elasticc/stream/`), kept by
`elasticc.metrics.refresh` so the page never counts the alert or message
tables:

- metricsalertsnight: sent alerts per (UTC day sent, simulated night =
  floor(MJD of the alert's source)). Keyed by the sent day too so the refresh
  can recount it from the day of the last sent alert, exactly as
  metricsalertsday (an alert sent later can carry the same timestamp);
- metricsmessagesnight: broker messages per (classifier, simulated night of
  the alert they answer).

And for the object browser and the confusion-cell drill-down
(`/elasticc/objects/`), which filter `elasticc_metricsobject`, the table of
one row per (classifier, object): each object's first and last detection MJD
and number of detections (as of the last message about it), so no filter
counts `elasticc_diasource`, and indexes that find the objects of one
confusion cell in diaObjectId order (the keyset of the list).

All are filled from the existing rows here, as a full refresh would.
"""

from django.db import migrations

FORWARD_SQL = """
CREATE TABLE elasticc_metricsalertsnight (
    day date NOT NULL,
    night integer NOT NULL,
    nsent bigint NOT NULL,
    PRIMARY KEY (day, night)
);
CREATE TABLE elasticc_metricsmessagesnight (
    classifierid integer NOT NULL,
    night integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (classifierid, night)
);
INSERT INTO elasticc_metricsalertsnight (day, night, nsent)
SELECT (a.alertsenttimestamp AT TIME ZONE 'UTC')::date, floor(s.midpointtai)::integer, count(*)
FROM elasticc_diaalert a JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid
WHERE a.alertsenttimestamp IS NOT NULL
  AND a.alertsenttimestamp <= (SELECT alerts_sent_upto FROM elasticc_metricsstate WHERE id = 1)
GROUP BY 1, 2;
INSERT INTO elasticc_metricsmessagesnight (classifierid, night, n)
SELECT c.classifierid, floor(s.midpointtai)::integer, count(DISTINCT m.brokermessageid)
FROM elasticc_brokerclassification c
JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid
JOIN elasticc_diaalert a ON a.alertid = m.alertid
JOIN elasticc_diasource s ON s.diasourceid = a.diasourceid
WHERE c.brokermessageid <= (SELECT messages_upto FROM elasticc_metricsstate WHERE id = 1)
GROUP BY 1, 2;

ALTER TABLE elasticc_metricsobject ADD COLUMN firstdet double precision NULL,
    ADD COLUMN lastdet double precision NULL, ADD COLUMN ndet integer NULL;
UPDATE elasticc_metricsobject o SET firstdet = d.firstdet, lastdet = d.lastdet, ndet = d.ndet
FROM (SELECT diaobjectid, min(midpointtai) AS firstdet, max(midpointtai) AS lastdet, count(*) AS ndet
      FROM elasticc_diasource
      WHERE diaobjectid IN (SELECT DISTINCT diaobjectid FROM elasticc_metricsobject) GROUP BY diaobjectid) d
WHERE d.diaobjectid = o.diaobjectid;
CREATE INDEX elasticc_metricsobject_latest_cell ON elasticc_metricsobject
    (classifierid, trueclassid, latest_classid, diaobjectid);
CREATE INDEX elasticc_metricsobject_best_cell ON elasticc_metricsobject
    (classifierid, trueclassid, best_classid, diaobjectid);
"""

BACKWARD_SQL = """
DROP TABLE elasticc_metricsalertsnight, elasticc_metricsmessagesnight;
DROP INDEX elasticc_metricsobject_latest_cell, elasticc_metricsobject_best_cell;
ALTER TABLE elasticc_metricsobject DROP COLUMN firstdet, DROP COLUMN lastdet, DROP COLUMN ndet;
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0014_metrics_classifier_objects")]

    operations = [
        migrations.RunSQL(FORWARD_SQL, BACKWARD_SQL),
    ]
