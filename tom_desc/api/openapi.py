"""OpenAPI schema hooks (drf-spectacular) and the login-protected docs pages.

The generated schema covers the DESC TOM's own API, not TOM Toolkit's
internal endpoints: `project_endpoints` keeps the DRF views under
`SCHEMA_PREFIXES`. Plain Django views (the login form) cannot be
introspected, so `add_plain_django_endpoints` documents them from their HTTP
contract (README, "Authentication"), each only when its URL resolves here.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.urls import Resolver404, resolve
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.views import APIView

SCHEMA_PREFIXES = ("/elasticc/", "/elasticc2/", "/db/", "/api/token-auth/")


# (path, sample path that must resolve, {method: operation}) of plain Django views.
PLAIN_DJANGO_ENDPOINTS: list[tuple[str, str, dict[str, dict[str, Any]]]] = [
    (
        "/accounts/login/",
        "/accounts/login/",
        {
            "get": {
                "operationId": "accounts_login_form",
                "summary": "Login form; sets the csrftoken cookie",
                "tags": ["auth"],
                "security": [],
                "responses": {"200": {"description": "HTML login form."}},
            },
            "post": {
                "operationId": "accounts_login",
                "summary": "Session login (form fields username, password, csrfmiddlewaretoken)",
                "description": "On success redirects (200 after redirects) with a session cookie; on failure the "
                "form is shown again (200) containing 'Please enter a correct'. Later POST/PUT requests send "
                "the header X-CSRFToken: <csrftoken cookie>.",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password", "csrfmiddlewaretoken"],
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                    "csrfmiddlewaretoken": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"302": {"description": "Logged in."}, "200": {"description": "Login failed."}},
            },
        },
    ),
]


class RateLimitedBasicScheme(BasicScheme):
    """Documents our rate-limited HTTP Basic (tom_desc.api.auth) as HTTP Basic."""

    target_class = "tom_desc.api.auth.RateLimitedBasicAuthentication"


def project_endpoints(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Preprocessing hook: keep the DESC TOM's own API endpoints."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(SCHEMA_PREFIXES)]


def _routed_plain_django_view(path: str) -> bool:
    """Whether `path` is routed to a view that is not a DRF APIView (those are introspected)."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return not (isinstance(view_class, type) and issubclass(view_class, APIView))


def add_plain_django_endpoints(result: dict, generator: Any, **kwargs: Any) -> dict:
    """Postprocessing hook: document the routed plain-Django endpoints that
    introspection could not see (never overriding a DRF-generated entry)."""
    paths = result.setdefault("paths", {})
    for path, sample, operations in PLAIN_DJANGO_ENDPOINTS:
        if path in paths or not _routed_plain_django_view(sample):
            continue
        paths[path] = operations
    result["paths"] = dict(sorted(paths.items()))
    return result


schema_view = SpectacularAPIView.as_view()
# The split view serves Swagger UI's start-up script from a URL of its own, not
# inline, so the Content-Security-Policy (settings) needs no exception for it;
# api_docs.html shows it in the site frame.
docs_view = login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html"))
