"""URLs of the DESC TOM: ours first, then everything TOM Toolkit provides."""

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from elasticc.pages.views import FrontPageView
from tom_desc.accounts import StaffUserListView
from tom_desc.api.openapi import docs_view, schema_view
from tom_desc.api.token_auth import obtain_auth_token
from tom_desc.api.trailing_slash import missing_trailing_slash


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the hashed static
    name is known only once the manifest is loaded, so it is looked up here."""
    return HttpResponseRedirect(static("tom_desc/favicon.svg"))


urlpatterns = [
    # Before tom_common.urls: our home page instead of TOM Toolkit's "Congratulations" page.
    path("", FrontPageView.as_view(), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("elasticc/", include("elasticc.api.urls")),
    path("elasticc/", include("elasticc.pages.urls")),
    path("elasticc2/", include(("elasticc.api.elasticc2_urls", "elasticc-api"), namespace="elasticc2-api")),
    path("db/", include("db.urls")),
    path("api/schema/", schema_view, name="api-schema"),
    path("api/docs/", docs_view, name="api-docs"),
    # Before tom_common.urls, which routes the same paths to looser views.
    path("api/token-auth/", obtain_auth_token, name="api-token-auth"),
    path("users/", StaffUserListView.as_view(), name="user-list"),
    path("", include("tom_common.urls")),
    # Last: a URL missing its trailing slash gets a redirect (GET) or a 400 JSON error (POST/PUT), never a 500.
    re_path(r"^(?P<path>.*[^/])$", missing_trailing_slash),
]
