"""Forced sources keep their object reference but PostgreSQL no longer checks
it per row (see DiaForcedSource's docstring): loading measured twice as fast."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0005_metrics_aggregates")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="diaforcedsource",
                    name="diaobject",
                    field=models.ForeignKey(
                        db_column="diaobjectid",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="elasticc.diaobject",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE elasticc_diaforcedsource DROP CONSTRAINT elasticc_diaforcedsource_diaobjectid_fkey",
                    "ALTER TABLE elasticc_diaforcedsource ADD CONSTRAINT elasticc_diaforcedsource_diaobjectid_fkey "
                    "FOREIGN KEY (diaobjectid) REFERENCES elasticc_diaobject (diaobjectid) "
                    "DEFERRABLE INITIALLY DEFERRED",
                ),
            ],
        ),
    ]
