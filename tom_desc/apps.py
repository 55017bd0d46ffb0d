from django.apps import AppConfig


class TomDescConfig(AppConfig):
    name = "tom_desc"
    verbose_name = "DESC TOM"
