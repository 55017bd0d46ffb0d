"""SQL over HTTP (spec/http-api.md, "SQL over HTTP" and "Long queries").

Thin DRF views: validation and execution live in db.sql_runner, encoding in
db.result_formats, the queue in db.long_queries. DRF gives session (with CSRF),
token and basic authentication, and 403 for anonymous requests.
"""

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from db import long_queries
from db.models import LongQuery
from db.result_formats import ResponseChunks, csv_chunks, json_chunks
from db.sql_runner import SqlQueryError, parse_sql_request, start_sql

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
ERROR = OpenApiResponse(
    inline_serializer("SqlError", {"status": serializers.CharField(), "error": serializers.CharField()}),
    description='{"status": "error", "error": "<message>"}',
)


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"status": "error", "error": message}, status=code)


class RunSqlQueryView(APIView):
    @extend_schema(
        request=QUERY_BODY,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"columns": [...], "rows": [{column: value}, ...], "status": "ok"} streamed '
                "(or CSV with format=csv); an error after rows were sent ends the JSON with "
                '"status": "error" (CSV: a last line "#ERROR: ...").',
            ),
            400: ERROR,
        },
        summary="Run read-only SQL as your database role",
    )
    def post(self, request):
        try:
            sql_request = parse_sql_request(data=request.data)
            fmt = request.data.get("format", "json")
            if fmt not in ("json", "csv"):
                raise SqlQueryError("format must be json or csv")
            stream = start_sql(user=request.user, request=sql_request)
        except SqlQueryError as exc:
            return _error(str(exc))
        if fmt == "csv":
            return StreamingHttpResponse(
                ResponseChunks(stream, csv_chunks(stream)), content_type="text/csv; charset=utf-8"
            )
        return StreamingHttpResponse(ResponseChunks(stream, json_chunks(stream)), content_type="application/json")


class SubmitSqlQueryView(APIView):
    @extend_schema(
        request=LONG_QUERY_BODY,
        responses={
            200: inline_serializer(
                "LongSqlQuerySubmitted", {"status": serializers.CharField(), "queryid": serializers.UUIDField()}
            ),
            400: ERROR,
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


def _own_query(request, queryid) -> LongQuery | None:
    return LongQuery.objects.filter(pk=queryid, user=request.user).first()


class CheckSqlQueryView(APIView):
    @extend_schema(
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="queryid, status, times, error"), 404: ERROR},
        summary="Status of one of your long queries",
    )
    def post(self, request, queryid):
        query = _own_query(request, queryid)
        if query is None:
            return _error(f"no query {queryid} of yours", status.HTTP_404_NOT_FOUND)
        return Response(long_queries.query_status(query=query))

    get = post


class GetSqlQueryResultsView(APIView):
    @extend_schema(
        request=None,
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            404: ERROR,
            409: ERROR,
            410: ERROR,
        },
        summary="Result file of one of your finished long queries",
    )
    def post(self, request, queryid):
        query = _own_query(request, queryid)
        if query is None:
            return _error(f"no query {queryid} of yours", status.HTTP_404_NOT_FOUND)
        try:
            path = long_queries.result_file(query=query)
        except SqlQueryError as exc:
            return _error(str(exc), status.HTTP_409_CONFLICT)
        except FileNotFoundError as exc:
            return _error(str(exc), status.HTTP_410_GONE)
        content_type = "text/csv" if query.format == LongQuery.Format.CSV else "application/vnd.apache.parquet"
        return FileResponse(path.open("rb"), content_type=content_type, filename=path.name)

    get = post
