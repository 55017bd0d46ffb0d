from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    from elasticc.access.sql_roles import sync_sql_roles
    from elasticc.taxonomy.reference_rows import ensure_reference_data

    connection = connections[using]
    sync_sql_roles(connection)
    if "elasticc_classid" in connection.introspection.table_names():  # not after `migrate elasticc zero`
        ensure_reference_data(using=using)


class ElasticcConfig(AppConfig):
    name = "elasticc"
    verbose_name = "ELAsTiCC"
    default_auto_field = "django.db.models.BigAutoField"

    def target_detail_tabs(self) -> list[dict]:
        """TOM Toolkit's hook: a tab on the page of a target made from an
        object, with the link back and the object's reported spectra."""
        return [
            {
                "partial": "elasticc/target_tab.html",
                "context": "elasticc.pages.views.target_spectra_tab",
                "label": "ELAsTiCC",
            }
        ]

    def ready(self) -> None:
        # Grants follow every migrate (tables added later are covered) and the
        # reference rows come back after a flush.
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="elasticc_after_migrate")
        # The admin registrations live with the pages (elasticc/pages/admin.py).
        import elasticc.pages.admin  # noqa: F401
