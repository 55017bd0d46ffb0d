"""WSGI entry point for gunicorn (`gunicorn tom_desc.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tom_desc.settings")
application = get_wsgi_application()
