"""Key the taxonomy tables by taxonomy, so ELAsTiCC2 (0008) can sit beside ELAsTiCC.

The rows already there are ELAsTiCC's. `elasticc_classid`'s primary key
becomes (taxonomy, classid): Django cannot migrate a single-column key to a
composite one, so the table is altered in SQL and the model state replaced.
"""

from django.db import migrations, models

CHOICES = [("elasticc", "ELAsTiCC (3-digit)"), ("elasticc2", "ELAsTiCC2 (4-digit)")]

CLASSID_KEY_SQL = """
ALTER TABLE elasticc_classid ADD COLUMN taxonomy text NOT NULL DEFAULT 'elasticc';
ALTER TABLE elasticc_classid ALTER COLUMN taxonomy DROP DEFAULT;
ALTER TABLE elasticc_classid DROP CONSTRAINT elasticc_classid_pkey;
ALTER TABLE elasticc_classid ADD CONSTRAINT elasticc_classid_pkey PRIMARY KEY (taxonomy, classid);
"""

CLASSID_KEY_REVERSE_SQL = """
DELETE FROM elasticc_classid WHERE taxonomy <> 'elasticc';
ALTER TABLE elasticc_classid DROP CONSTRAINT elasticc_classid_pkey;
ALTER TABLE elasticc_classid ADD CONSTRAINT elasticc_classid_pkey PRIMARY KEY (classid);
ALTER TABLE elasticc_classid DROP COLUMN taxonomy;
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0006_forcedsource_unenforced_object_fk")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CLASSID_KEY_SQL, CLASSID_KEY_REVERSE_SQL)],
            state_operations=[
                migrations.DeleteModel(name="ClassId"),
                migrations.CreateModel(
                    name="ClassId",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "taxonomy", "classid", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("taxonomy", models.TextField(choices=CHOICES)),
                        ("classid", models.IntegerField()),
                        ("name", models.TextField()),
                        ("parent", models.IntegerField(null=True)),
                        ("level", models.SmallIntegerField()),
                    ],
                    options={"db_table": "elasticc_classid"},
                ),
            ],
        ),
        migrations.AddField(
            model_name="gentypeofclassid",
            name="taxonomy",
            field=models.TextField(choices=CHOICES, default="elasticc"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="classidofgentype",
            name="taxonomy",
            field=models.TextField(choices=CHOICES, default="elasticc"),
            preserve_default=False,
        ),
        # ELAsTiCC has no general level; each of its rows covers its gentype at the broad level.
        migrations.AddField(model_name="classidofgentype", name="generalmatch", field=models.BooleanField(null=True)),
        migrations.AddField(
            model_name="classidofgentype",
            name="broadmatch",
            field=models.BooleanField(default=True),
            preserve_default=False,
        ),
    ]
