"""Each classifier is evaluated in one taxonomy; classIds outside it are counted.

- `elasticc_brokerclassifier`: `taxonomy` (chosen by an admin or the broker
  source; null = nobody chose), `defaulttaxonomy` (decided at registration)
  and the generated `evaluatedtaxonomy` the metrics and SQL users read.
  Classifiers registered before this migration get as default the taxonomy
  that holds all their classIds (ELAsTiCC when neither or both do).
- `elasticc_metricsclassifier.noutside`: classifications whose classId is
  outside the classifier's taxonomy, kept by the metrics refresh. The metrics
  tables change meaning, so the watermark is reset: the next refresh rebuilds them.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce

CHOICES = [("elasticc", "ELAsTiCC (3-digit)"), ("elasticc2", "ELAsTiCC2 (4-digit)")]

EXISTING_DEFAULTS_SQL = """
UPDATE elasticc_brokerclassifier c SET defaulttaxonomy = 'elasticc2'
WHERE EXISTS (
    SELECT 1 FROM elasticc_brokerclassification x
    WHERE x.classifierid = c.classifierid
      AND x.classid NOT IN (SELECT classid FROM elasticc_classid WHERE taxonomy = 'elasticc'))
AND NOT EXISTS (
    SELECT 1 FROM elasticc_brokerclassification x
    WHERE x.classifierid = c.classifierid
      AND x.classid NOT IN (SELECT classid FROM elasticc_classid WHERE taxonomy = 'elasticc2'))
"""

METRICS_SQL = """
ALTER TABLE elasticc_metricsclassifier ADD COLUMN noutside bigint NOT NULL DEFAULT 0;
TRUNCATE elasticc_metricsclassifier, elasticc_metricsobject, elasticc_metricsconfusion, elasticc_metricsdelay,
    elasticc_metricsclassified, elasticc_metricsalertsday, elasticc_metricstrueprob;
UPDATE elasticc_metricsstate SET messages_upto = 0, alerts_sent_upto = NULL;
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0008_elasticc2_taxonomy")]

    operations = [
        migrations.AddField(
            model_name="brokerclassifier",
            name="taxonomy",
            field=models.TextField(blank=True, choices=CHOICES, null=True),
        ),
        migrations.AddField(
            model_name="brokerclassifier",
            name="defaulttaxonomy",
            field=models.TextField(choices=CHOICES, db_default="elasticc"),
        ),
        migrations.AddField(
            model_name="brokerclassifier",
            name="evaluatedtaxonomy",
            field=models.GeneratedField(
                db_persist=True, expression=Coalesce("taxonomy", "defaulttaxonomy"), output_field=models.TextField()
            ),
        ),
        migrations.RunSQL(EXISTING_DEFAULTS_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(METRICS_SQL, "ALTER TABLE elasticc_metricsclassifier DROP COLUMN noutside"),
    ]
