"""Fill the ELAsTiCC taxonomy and the classId/gentype maps (data in `elasticc.taxonomy.elasticc`)."""

from django.db import migrations

from elasticc.taxonomy.reference_rows import taxonomy_rows


def fill(apps, schema_editor):
    for model_name, rows in taxonomy_rows(apps.get_model).items():
        apps.get_model("elasticc", model_name).objects.bulk_create(rows)


def empty(apps, schema_editor):
    for name in ("ClassId", "GentypeOfClassId", "ClassIdOfGentype"):
        apps.get_model("elasticc", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0001_initial")]

    operations = [migrations.RunPython(fill, empty)]
