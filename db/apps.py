from django.apps import AppConfig


class DbConfig(AppConfig):
    name = "db"
    verbose_name = "SQL over HTTP"
    default_auto_field = "django.db.models.BigAutoField"
