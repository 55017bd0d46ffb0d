"""The project's URLs plus `/bench/naivesqlquery/`: the original endpoint's
approach (fetch every row, build the whole response in memory), kept only so
bench/sql.py can compare it with the streaming `/db/runsqlquery/` in one run."""

import csv
import io

from django.http import HttpResponse, JsonResponse
from django.urls import path
from rest_framework.views import APIView

from db import sql_runner
from tom_desc.urls import urlpatterns as project_urlpatterns


class NaiveSqlQueryView(APIView):
    def post(self, request):
        sql_request = sql_runner.parse_sql_request(data=request.data)
        role, password = sql_runner.role_for_user(user=request.user)
        conn = sql_runner._connect(role=role, password=password, timeout_ms=600_000, application_name="bench_naive")
        try:
            cursor = conn.cursor()
            cursor.execute(sql_request.queries[-1])
            columns = [c.name for c in cursor.description]
            rows = cursor.fetchall()
        finally:
            conn.rollback()
            conn.close()
        if request.data.get("format") == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
            return HttpResponse(buffer.getvalue(), content_type="text/csv")
        return JsonResponse({"status": "ok", "rows": [dict(zip(columns, row, strict=True)) for row in rows]})


urlpatterns = [path("bench/naivesqlquery/", NaiveSqlQueryView.as_view()), *project_urlpatterns]
