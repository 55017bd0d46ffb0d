"""SQL over HTTP (README, "SQL over HTTP and long queries").

Thin DRF views: validation and execution live in db.sql_runner, encoding in
db.result_formats, the queue in db.long_queries. DRF gives session (with CSRF),
token and basic authentication, and 403 for anonymous requests.
"""

import uuid

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated, PermissionDenied, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from db import long_queries
from db.models import LongQuery
from db.result_formats import ResponseChunks, csv_chunks, json_chunks
from db.sql_runner import SqlQueryError, parse_sql_request, start_sql
from tom_desc.api.errors import flatten_detail as _flatten

QUERY_BODY = inline_serializer(
    "SqlQueryRequest",
    {
        "query": serializers.JSONField(help_text="An SQL string, or a list of them run in order in one transaction."),
        "subdict": serializers.JSONField(
            required=False, help_text="psycopg %(name)s parameters: a dict, or a list of dicts, one per query."
        ),
        "format": serializers.ChoiceField(choices=["json", "csv"], required=False, default="json"),
    },
)
LONG_QUERY_BODY = inline_serializer(
    "LongSqlQueryRequest",
    {
        "query": serializers.JSONField(),
        "subdict": serializers.JSONField(required=False),
        "format": serializers.ChoiceField(choices=LongQuery.Format.values, required=False, default="csv"),
    },
)
RESULT_CONTENT_TYPES = {
    LongQuery.Format.CSV: "text/csv",
    LongQuery.Format.PARQUET: "application/vnd.apache.parquet",
    LongQuery.Format.PANDAS: "application/octet-stream",
}
ERROR = OpenApiResponse(
    inline_serializer("SqlError", {"status": serializers.CharField(), "error": serializers.CharField()}),
    description='{"status": "error", "error": "<message>"}',
)


def _error(message: str) -> Response:
    """An SQL-endpoint error: HTTP 200 with `status: error`, as the original
    answered; its clients raise on any other status and lose the message."""
    return Response({"status": "error", "error": message}, status=status.HTTP_200_OK)


class SqlApiView(APIView):
    """Base of the SQL endpoints: every failure but authentication and
    permission (401/403) is an HTTP 200 `{"status": "error", "error"}`,
    including a body that is not JSON."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, APIException) and not isinstance(
            exc, NotAuthenticated | AuthenticationFailed | PermissionDenied | Throttled
        ):
            return _error(_flatten(exc.detail))
        return super().handle_exception(exc)


class RunSqlQueryView(SqlApiView):
    @extend_schema(
        request=QUERY_BODY,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"columns": [...], "rows": [{column: value}, ...], "status": "ok"} streamed '
                "(or CSV with format=csv); an error after rows were sent ends the JSON with "
                '"status": "error" (CSV: a last line "#ERROR: ...").',
            ),
        },
        summary="Run read-only SQL as your database role",
    )
    def post(self, request):
        try:
            sql_request = parse_sql_request(data=request.data)
            fmt = request.data.get("format", "json")
            if fmt not in ("json", "csv"):
                raise SqlQueryError("format must be json or csv")
            stream = start_sql(user=request.user, request=sql_request, csv_copy=fmt == "csv")
        except SqlQueryError as exc:
            return _error(str(exc))
        if fmt == "csv":
            return StreamingHttpResponse(
                ResponseChunks(stream, csv_chunks(stream)), content_type="text/csv; charset=utf-8"
            )
        return StreamingHttpResponse(ResponseChunks(stream, json_chunks(stream)), content_type="application/json")


class SubmitSqlQueryView(SqlApiView):
    @extend_schema(
        request=LONG_QUERY_BODY,
        responses={
            200: inline_serializer(
                "LongSqlQuerySubmitted",
                {
                    "status": serializers.CharField(help_text='"ok", or "error" with `error`'),
                    "queryid": serializers.UUIDField(required=False),
                    "error": serializers.CharField(required=False),
                },
            ),
        },
        summary="Queue a long SQL query",
    )
    def post(self, request):
        try:
            sql_request = parse_sql_request(data=request.data)
            query = long_queries.submit_long_query(
                user=request.user, request=sql_request, fmt=request.data.get("format", "csv")
            )
        except SqlQueryError as exc:
            return _error(str(exc))
        return Response({"status": "ok", "queryid": str(query.id)})


def _own_query(request, queryid: str) -> LongQuery:
    """The user's long query `queryid` (any text from the URL); SqlQueryError
    if it is not a query id or not one of theirs."""
    try:
        key = uuid.UUID(queryid)
    except ValueError:
        raise SqlQueryError(f"{queryid!r:.60} is not a query id (a UUID)") from None
    query = LongQuery.objects.filter(pk=key, user=request.user).first()
    if query is None:
        raise SqlQueryError(f"no query {queryid} of yours")
    return query


class CheckSqlQueryView(SqlApiView):
    @extend_schema(
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="queryid, status, times, error")},
        summary="Status of one of your long queries",
    )
    def post(self, request, queryid):
        try:
            query = _own_query(request, queryid)
        except SqlQueryError as exc:
            return _error(str(exc))
        return Response(long_queries.query_status(query=query))

    get = post


class GetSqlQueryResultsView(SqlApiView):
    @extend_schema(
        request=None,
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (200, "application/json"): ERROR,
        },
        summary="Result file of one of your finished long queries",
    )
    def post(self, request, queryid):
        try:
            query = _own_query(request, queryid)
            path = long_queries.result_file(query=query)
        except SqlQueryError as exc:
            return _error(str(exc))
        except FileNotFoundError as exc:
            return _error(str(exc))
        content_type = RESULT_CONTENT_TYPES[query.format]
        return FileResponse(path.open("rb"), content_type=content_type, filename=path.name)

    get = post
