"""The numbers behind every metrics chart and the comparison table, as JSON
or CSV (`?format=csv`), so a notebook gets exactly what the pages draw.

Thin: each view validates its query with the page's form and returns the
rows of one `elasticc.metrics.readers` function, flattened (one row per
bin, day, cell or classifier) so the JSON list and the CSV hold the same
table. Truth-derived endpoints (confusion, probability of the true class,
accuracy / F1 / per-class scores) answer 403 JSON to users who may not see
truth (`elasticc.access.groups.may_see_truth`), whatever format was asked.

Every download streams (`MetricsView.rows_response`): the rows are encoded
a chunk at a time as the server sends them, and an object's rows come from
a server-side cursor, so no download is held whole in memory whatever its
size. Errors (validation, 404, 403) are decided before the first byte and
answered whole, in JSON.
"""

from collections.abc import Generator, Iterable
from itertools import chain

from django import forms
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from elasticc.access.groups import may_see_truth
from elasticc.metrics import charts, readers
from elasticc.metrics.refresh import DAYS_AFTER_DETECTION, MODES
from elasticc.models import DiaObject
from elasticc.pages.forms import ComparisonForm, MetricsForm, PairForm
from elasticc.read import selectors
from tom_desc.api.renderers import CSVRenderer, ORJSONRenderer, csv_rows_chunks, json_rows_chunks


class MaySeeTruth(BasePermission):
    message = "truth-derived metrics are only for members of elasticc_admin while the challenge runs"

    def has_permission(self, request: Request, view) -> bool:
        return may_see_truth(request.user)


FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="json (default) or csv")
MODE = OpenApiParameter(
    "mode",
    str,
    enum=list(MODES),
    description=(
        "prediction per object (default latest): latest = top class of the classification of the latest alert "
        "(by sent time); best = most confident classification over all alerts; days<N> (N = "
        f"{', '.join(str(n) for n in DAYS_AFTER_DETECTION)}) = the latest classification (by MJD of the alert's "
        "source) among those of alerts whose source MJD <= first detection MJD + N, objects without one left out"
    ),
)
LEVEL = OpenApiParameter(
    "level", str, enum=list(readers.LEVELS), description="taxonomy level (default exact; general: ELAsTiCC2 only)"
)
START = OpenApiParameter("start", OpenApiTypes.DATE, description="first day messages were stored (UTC, inclusive)")
END = OpenApiParameter("end", OpenApiTypes.DATE, description="last day messages were stored (UTC, inclusive)")
PERIOD = OpenApiParameter(
    "period",
    str,
    enum=["day", "week"],
    description="bucket (default day): one night or send day, or a week of them (Monday to Sunday)",
)
AXIS = OpenApiParameter(
    "axis",
    str,
    enum=["night", "sent"],
    description=(
        "night (default): per simulated night, floor of the MJD of the alert's source, rows keyed `night`; "
        "sent: per wall-clock day the alert was sent (UTC), rows keyed `start`"
    ),
)
MJD_MIN = OpenApiParameter(
    "mjd_min", OpenApiTypes.DOUBLE, description="axis=night: first night, floor(mjd_min) (inclusive)"
)
MJD_MAX = OpenApiParameter(
    "mjd_max", OpenApiTypes.DOUBLE, description="axis=night: last night, floor(mjd_max) (inclusive)"
)
ROWS = OpenApiResponse(description="a list of flat rows (JSON), or the same table as CSV with a header")
TRUTH_403 = OpenApiResponse(description="the user may not see truth-derived numbers: {'error': ...}")


class MetricsView(APIView):
    """Base: JSON or CSV of flat rows, streamed; errors always JSON."""

    renderer_classes = [ORJSONRenderer, CSVRenderer]
    permission_classes = [IsAuthenticated]
    download_name = "metrics"

    def handle_exception(self, exc):
        # An error body is a dict, not a table: answer it in JSON even for ?format=csv.
        self.request.accepted_renderer = ORJSONRenderer()
        self.request.accepted_media_type = ORJSONRenderer.media_type
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and getattr(request, "accepted_renderer", None).format == "csv":
            response["Content-Disposition"] = f'attachment; filename="{self.download_name}.csv"'
        return response

    def rows_response(self, rows: Iterable[dict]) -> StreamingHttpResponse:
        """`rows` streamed in the negotiated format (`?format=csv` or JSON):
        the same bytes the renderer gives for the whole list, one chunk of
        rows at a time (lazily drawn from `rows` if it is an iterator)."""
        if self.request.accepted_renderer.format == "csv":
            return StreamingHttpResponse(csv_rows_chunks(rows), content_type="text/csv; charset=utf-8")
        return StreamingHttpResponse(json_rows_chunks(rows), content_type="application/json")

    def cleaned(self, form: forms.Form) -> dict:
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        return form.cleaned_data

    def classifier(self, classifierid: int) -> dict:
        found = next((c for c in selectors.classifiers() if c["classifierid"] == classifierid), None)
        if found is None:
            raise NotFound("no such classifier")
        return found


def _comparison_row(row: dict) -> dict:
    """A comparison row without its per-class list, bins as low/high columns."""
    flat = {key: value for key, value in row.items() if key not in ("per_class", "delay_median", "delay_p95")}
    for key in ("delay_median", "delay_p95"):
        low, high = row[key] or (None, None)
        flat[f"{key}_low_s"], flat[f"{key}_high_s"] = low, high
    return flat


class ComparisonView(MetricsView):
    """The comparison table of `/elasticc/metrics/`."""

    download_name = "classifier_comparison"

    @extend_schema(
        summary="Every classifier compared (the table of /elasticc/metrics/)",
        description=(
            "Per classifier: objects classified, alerts answered / alerts sent (completeness), the bins holding the "
            "median and 95th percentile of the total delay, classIds outside its taxonomy; for users who may see "
            "truth also objects with truth, accuracy and macro-averaged F1 at the level and mode asked."
        ),
        parameters=[MODE, LEVEL, FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = self.cleaned(ComparisonForm(request.query_params))
        rows = readers.comparison(mode=params["mode"], level=params["level"], truth=may_see_truth(request.user))
        return self.rows_response(_comparison_row(row) for row in rows)


class ComparisonClassesView(MetricsView):
    """Per classifier and class: purity, completeness and F1 (truth-derived)."""

    permission_classes = [IsAuthenticated, MaySeeTruth]
    download_name = "classifier_comparison_classes"

    @extend_schema(
        summary="Per-class purity, completeness and F1 of every classifier (truth-derived)",
        parameters=[MODE, LEVEL, FORMAT],
        responses={200: ROWS, 403: TRUTH_403},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = self.cleaned(ComparisonForm(request.query_params))
        rows = readers.comparison(mode=params["mode"], level=params["level"], truth=True)
        return self.rows_response(
            {"classifierid": row["classifierid"], **entry} for row in rows for entry in row["per_class"]
        )


class PairF1View(MetricsView):
    """The per-class F1 difference of the A-vs-B view (truth-derived)."""

    permission_classes = [IsAuthenticated, MaySeeTruth]
    download_name = "classifier_pair_f1"

    @extend_schema(
        summary="Per-class F1 of two classifiers and B minus A (the A-vs-B view, truth-derived)",
        description=(
            "One row per class true or predicted by either classifier, each evaluated in its own taxonomy at the "
            'level asked: classid, class ("classId name"), a and b (F1; 0 for a class that classifier never saw), '
            "diff (b - a). The two confusion matrices: /elasticc/metricsdata/<id>/confusion/ of each."
        ),
        parameters=[
            OpenApiParameter("a", int, required=True, description="classifier A (classifierId)"),
            OpenApiParameter("b", int, required=True, description="classifier B (classifierId)"),
            MODE,
            LEVEL,
            FORMAT,
        ],
        responses={200: ROWS, 403: TRUTH_403},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = self.cleaned(PairForm(request.query_params))
        a, b = self.classifier(params["a"]), self.classifier(params["b"])
        for side, classifier in (("A", a), ("B", b)):
            taxonomy = classifier["evaluatedtaxonomy"]
            if params["level"] not in readers.levels_of(taxonomy):
                raise ValidationError(
                    {"level": [f"classifier {side}'s {taxonomy} taxonomy has no {params['level']} level"]}
                )
        return self.rows_response(charts.f1_difference(a=a, b=b, mode=params["mode"], level=params["level"]))


class DelaysView(MetricsView):
    download_name = "delays"

    @extend_schema(
        summary="Delay histograms of one classifier (log-spaced bins, zero-filled)",
        description="One row per kind (broker, ours, total) and bin: [low_s, high_s) and messages.",
        parameters=[START, END, FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request, classifierid: int) -> StreamingHttpResponse:
        self.classifier(classifierid)
        params = self.cleaned(MetricsForm(request.query_params, truth=False))
        hist = readers.delay_histograms(classifierid=classifierid, start=params["start"], end=params["end"])
        edges = hist["edges"]
        return self.rows_response(
            {"kind": kind, "low_s": edges[i], "high_s": edges[i + 1], "messages": n}
            for kind, counts in hist["counts"].items()
            for i, n in enumerate(counts)
        )


class CompletenessView(MetricsView):
    download_name = "completeness"

    @extend_schema(
        summary="Alerts sent and alerts one classifier answered, per simulated night or send day",
        description=(
            "One row per night (axis=night, the default: `night` = floor of the MJD of the alert's source, in the "
            "window mjd_min..mjd_max) or per send day (axis=sent: `start` = UTC date the alert was sent, in the "
            "window start..end), or per week of either (period=week; the row names its first night or day): alerts "
            "sent, alerts this classifier answered (each once, however many messages), fraction."
        ),
        parameters=[AXIS, PERIOD, MJD_MIN, MJD_MAX, START, END, FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request, classifierid: int) -> StreamingHttpResponse:
        self.classifier(classifierid)
        params = self.cleaned(MetricsForm(request.query_params, truth=False))
        return self.rows_response(readers.completeness_on_axis(classifierid=classifierid, params=params))


class ConfusionView(MetricsView):
    permission_classes = [IsAuthenticated, MaySeeTruth]
    download_name = "confusion"

    @extend_schema(
        summary="Confusion matrix of one classifier against truth (truth-derived)",
        description="One row per non-empty cell: true classId, predicted classId, objects.",
        parameters=[MODE, LEVEL, FORMAT],
        responses={200: ROWS, 403: TRUTH_403},
    )
    def get(self, request: Request, classifierid: int) -> StreamingHttpResponse:
        taxonomy = self.classifier(classifierid)["evaluatedtaxonomy"]
        params = self.cleaned(MetricsForm(request.query_params, levels=readers.levels_of(taxonomy)))
        cells = readers.confusion(
            classifierid=classifierid, mode=params["mode"], level=params["level"], taxonomy=taxonomy
        )
        return self.rows_response({"trueclassid": t, "predclassid": p, "objects": n} for t, p, n in cells)


class TrueProbabilityView(MetricsView):
    permission_classes = [IsAuthenticated, MaySeeTruth]
    download_name = "true_class_probability"

    @extend_schema(
        summary="Probability given to the true class by days since first detection (truth-derived)",
        description="One row per true class ('all': every class together) and day: n, mean, std.",
        parameters=[FORMAT],
        responses={200: ROWS, 403: TRUTH_403},
    )
    def get(self, request: Request, classifierid: int) -> StreamingHttpResponse:
        self.classifier(classifierid)
        result = readers.true_class_probability(classifierid=classifierid)
        return self.rows_response({"trueclass": key, **entry} for key, entries in result.items() for entry in entries)


class ObjectRowsView(MetricsView):
    """Base of an object's rows as the object page shows them (one query of
    `elasticc.read.selectors`, already flat, read through a server-side
    cursor as the response streams: an object's classifications grow with
    its alerts, classifiers and classes)."""

    def object_rows(self, diaobjectid: int, rows: Generator[dict, None, None]) -> StreamingHttpResponse:
        first = next(rows, None)
        if first is None:
            rows.close()  # the cursor, before answering
            if not DiaObject.objects.filter(pk=diaobjectid).exists():
                raise NotFound("no such object")
            return self.rows_response([])
        return self.rows_response(chain([first], rows))


class ObjectAlertsView(ObjectRowsView):
    download_name = "object_alerts"

    @extend_schema(
        summary="The alerts of one diaObject (the table of its page)",
        description=(
            "One row per alert: alertid, diasourceid, midpointtai, filtername, alertsenttimestamp (null: not sent)."
        ),
        parameters=[FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request, diaobjectid: int) -> StreamingHttpResponse:
        return self.object_rows(diaobjectid, selectors.iter_object_alerts(diaobjectid=diaobjectid))


class ObjectLightCurveView(ObjectRowsView):
    download_name = "object_lightcurve"

    @extend_schema(
        summary="The light curve of one diaObject (the chart of its page)",
        description=(
            "One row per point, by MJD: kind (detection: a diaSource; forced: a diaForcedSource), id (its "
            "diaSourceId or diaForcedSourceId), midpointtai, filtername, psflux and psfluxerr (nJy), snr (detections "
            "only). The paginated REST lists: /elasticc/diasource/ and /elasticc/diaforcedsource/ ?diaObjectId=."
        ),
        parameters=[FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request, diaobjectid: int) -> StreamingHttpResponse:
        return self.object_rows(diaobjectid, selectors.iter_object_light_curve(diaobjectid=diaobjectid))


class ObjectClassificationsView(ObjectRowsView):
    download_name = "object_classifications"

    @extend_schema(
        summary="Every classification of one diaObject (the history charts of its page)",
        description=(
            "One row per classification: classifierid, brokermessageid, alertid, midpointtai of the alert's source, "
            "descingesttimestamp, classid, probability."
        ),
        parameters=[FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request, diaobjectid: int) -> StreamingHttpResponse:
        return self.object_rows(diaobjectid, selectors.iter_object_classifications(diaobjectid=diaobjectid))


class StreamNightsView(MetricsView):
    download_name = "stream_nights"

    @extend_schema(
        summary="Alerts sent and broker messages per simulated night (the stream status page)",
        description=(
            "One row per simulated night (floor of the MJD of the alert's source) and series: classifierid null "
            "for the alerts sent, else that classifier's broker messages about alerts of that night. Zero-filled: "
            "every night from the first to the last, for each series."
        ),
        parameters=[FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        nights = readers.stream_nights()
        alerts = (
            {"night": r["night"], "classifierid": None, "alerts_sent": r["alerts_sent"], "messages": None}
            for r in nights["alerts"]
        )
        messages = (
            {"night": r["night"], "classifierid": r["classifierid"], "alerts_sent": None, "messages": r["messages"]}
            for r in nights["messages"]
        )
        return self.rows_response(chain(alerts, messages))


class StreamLagView(MetricsView):
    download_name = "stream_lag"

    @extend_schema(
        summary="Time since the last alert sent and the last broker message stored",
        description=(
            "One row: last_alert_sent, last_message_stored, as_of (the metrics refresh they come from), "
            "alert_lag_s and message_lag_s (seconds from them to now)."
        ),
        parameters=[FORMAT],
        responses={200: ROWS},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return self.rows_response([readers.stream_lag(timezone.now())])
