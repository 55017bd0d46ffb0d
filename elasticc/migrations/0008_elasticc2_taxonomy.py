"""Fill the ELAsTiCC2 taxonomy and its classId/gentype maps (data in `elasticc.taxonomy.elasticc2`)."""

from django.db import migrations

from elasticc.taxonomy.reference_rows import taxonomy_rows

TAXONOMY = "elasticc2"


def fill(apps, schema_editor):
    for model_name, rows in taxonomy_rows(apps.get_model, taxonomy=TAXONOMY).items():
        apps.get_model("elasticc", model_name).objects.bulk_create(rows)


def empty(apps, schema_editor):
    for name in ("ClassId", "GentypeOfClassId", "ClassIdOfGentype"):
        apps.get_model("elasticc", name).objects.filter(taxonomy=TAXONOMY).delete()


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0007_taxonomy_key")]

    operations = [migrations.RunPython(fill, empty)]
