"""Django groups `elasticc_admin` and `elasticc_broker`, and the read-only
PostgreSQL roles of the SQL endpoint (see elasticc/access/sql_roles.py)."""

from django.db import migrations

from elasticc.access.groups import GROUPS


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


def sync_roles(apps, schema_editor):
    from elasticc.access.sql_roles import sync_sql_roles

    sync_sql_roles(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("elasticc", "0003_partition_and_count_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_groups, delete_groups),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
