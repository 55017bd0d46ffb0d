from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    from elasticc.db_roles import sync_sql_roles
    from elasticc.reference_data import ensure_reference_data

    connection = connections[using]
    sync_sql_roles(connection)
    if "elasticc_classid" in connection.introspection.table_names():  # not after `migrate elasticc zero`
        ensure_reference_data(using=using)


class ElasticcConfig(AppConfig):
    name = "elasticc"
    verbose_name = "ELAsTiCC"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Grants follow every migrate (tables added later are covered) and the
        # reference rows come back after a flush.
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="elasticc_after_migrate")
