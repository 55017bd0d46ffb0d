"""URLs of the DESC TOM: ours first, then everything TOM Toolkit provides."""

from django.urls import include, path

urlpatterns = [
    path("elasticc/", include("elasticc.urls")),
    path("", include("tom_common.urls")),
]
