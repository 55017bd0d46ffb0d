"""`elasticc_metricsclassifier.nobjects`: objects a classifier gave a
prediction in its taxonomy (the comparison table's "objects classified").

Kept by `elasticc.metrics.refresh` (objects new to `elasticc_metricsobject`
in a chunk), so the comparison page never counts rows of the per-object
table; filled once here from that table.
"""

from django.db import migrations

FORWARD_SQL = """
ALTER TABLE elasticc_metricsclassifier ADD COLUMN nobjects bigint NOT NULL DEFAULT 0;
UPDATE elasticc_metricsclassifier c SET nobjects = o.n
FROM (SELECT classifierid, count(*) AS n FROM elasticc_metricsobject GROUP BY classifierid) o
WHERE o.classifierid = c.classifierid;
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0013_followup")]

    operations = [
        migrations.RunSQL(FORWARD_SQL, "ALTER TABLE elasticc_metricsclassifier DROP COLUMN nobjects"),
    ]
