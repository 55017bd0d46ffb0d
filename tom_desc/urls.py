"""URLs of the DESC TOM: ours first, then everything TOM Toolkit provides."""

from django.urls import include, path, re_path

from elasticc.api.schema import docs_view, schema_view
from elasticc.api.views import missing_trailing_slash

urlpatterns = [
    path("elasticc/", include("elasticc.api.urls")),
    path("elasticc/", include("elasticc.urls")),
    path("db/", include("db.urls")),
    path("api/schema/", schema_view, name="api-schema"),
    path("api/docs/", docs_view, name="api-docs"),
    path("", include("tom_common.urls")),
    # Last: a URL missing its trailing slash gets a redirect (GET) or a 400 JSON error (POST/PUT), never a 500.
    re_path(r"^(?P<path>.*[^/])$", missing_trailing_slash),
]
