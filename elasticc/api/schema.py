"""OpenAPI schema hooks (drf-spectacular) and the login-protected docs pages.

The generated schema covers the DESC TOM's own API, not TOM Toolkit's
internal endpoints: `project_endpoints` keeps the DRF views under
`SCHEMA_PREFIXES` (so the SQL endpoint's views under /db/ are picked up as
soon as they are DRF APIViews). Endpoints that are plain Django views (the
login form, and the /db/ views if they are not DRF) cannot be introspected,
so `add_plain_django_endpoints` documents them from the HTTP contract
(spec/http-api.md) — each only when its URL actually resolves here.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.urls import Resolver404, resolve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.views import APIView

SCHEMA_PREFIXES = ("/elasticc/", "/db/", "/api/token-auth/")

_JSON_ERROR = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["error"]}, "error": {"type": "string"}},
}
_SQL_BODY = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "SQL, or a list of statements run in order in one READ ONLY transaction.",
        },
        "subdict": {
            "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
            "description": "psycopg %(name)s parameters (a list value becomes a tuple), or one dict per query.",
        },
        "format": {"type": "string", "enum": ["json", "csv", "parquet"]},
    },
}
_QUERY_ID = {"name": "queryid", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


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
    (
        "/db/runsqlquery/",
        "/db/runsqlquery/",
        {
            "post": {
                "operationId": "db_runsqlquery",
                "summary": "Run read-only SQL (rows of the last query)",
                "tags": ["db"],
                "requestBody": {"required": True, **_json(_SQL_BODY)},
                "responses": {
                    "200": {
                        "description": "`{status: ok, rows: [...]}` or `{status: error, error}`; CSV with format=csv.",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "status": {"type": "string"},
                                    "rows": {"type": "array", "items": {"type": "object"}},
                                    "error": {"type": "string"},
                                },
                            }
                        ),
                    }
                },
            }
        },
    ),
    (
        "/db/submitsqlquery/",
        "/db/submitsqlquery/",
        {
            "post": {
                "operationId": "db_submitsqlquery",
                "summary": "Queue a long query (result as CSV or Parquet)",
                "tags": ["db"],
                "requestBody": {"required": True, **_json(_SQL_BODY)},
                "responses": {
                    "200": {
                        "description": "`{status: ok, queryid}`",
                        **_json({"type": "object", "properties": {"status": {}, "queryid": {"type": "string"}}}),
                    }
                },
            }
        },
    ),
    (
        "/db/checksqlquery/{queryid}/",
        "/db/checksqlquery/00000000-0000-0000-0000-000000000000/",
        {
            "post": {
                "operationId": "db_checksqlquery",
                "summary": "Status of a long query",
                "tags": ["db"],
                "parameters": [_QUERY_ID],
                "responses": {
                    "200": {
                        "description": "queryid, status (queued/started/finished/error), submitted, started, "
                        "finished, error (ISO times, absent until known)",
                        **_json({"type": "object"}),
                    },
                    "404": {"description": "Unknown query.", **_json(_JSON_ERROR)},
                },
            }
        },
    ),
    (
        "/db/getsqlqueryresults/{queryid}/",
        "/db/getsqlqueryresults/00000000-0000-0000-0000-000000000000/",
        {
            "post": {
                "operationId": "db_getsqlqueryresults",
                "summary": "Result file of a finished long query",
                "tags": ["db"],
                "parameters": [_QUERY_ID],
                "responses": {
                    "200": {
                        "description": "text/csv or Parquet bytes.",
                        "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
                    },
                    "400": {"description": "Not finished yet.", **_json(_JSON_ERROR)},
                },
            }
        },
    ),
]


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
docs_view = login_required(SpectacularSwaggerView.as_view(url_name="api-schema"))
