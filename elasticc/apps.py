from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_sql_roles(sender, using, **kwargs) -> None:
    from django.db import connections

    from elasticc.db_roles import sync_sql_roles

    sync_sql_roles(connections[using])


class ElasticcConfig(AppConfig):
    name = "elasticc"
    verbose_name = "ELAsTiCC"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Grants follow every migrate, so tables any app adds later are covered.
        post_migrate.connect(_sync_sql_roles, sender=self, dispatch_uid="elasticc_sync_sql_roles")
