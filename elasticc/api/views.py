"""REST API views. Thin: querying lives in `elasticc.api_selectors`, paging in
`elasticc.api.pagination`, filtering in `elasticc.api.filters`, alert
building in `elasticc.alert_builder` and broker-message storage in
`elasticc.broker_messages`.

Every list is keyset-paginated on its primary key (`pagination_key`) and
reads `.values_list()` rows (key first), so a page is one index range scan
plus, for totals, one counter lookup.
"""

from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from elasticc import alert_builder, api_selectors
from elasticc.api import filters, serializers
from elasticc.api.pagination import KeysetPagination
from elasticc.api.permissions import IsElasticcAdmin, IsElasticcBrokerOrReadOnly
from elasticc.api.renderers import ORJSONRenderer
from elasticc.api_selectors import ListCount
from elasticc.broker_messages import BrokerMessageError, parse_broker_messages, store_broker_messages
from elasticc.models import (
    BrokerMessage,
    DiaAlert,
    DiaForcedSource,
    DiaObject,
    DiaObjectTruth,
    DiaSource,
    DiaTruth,
)

RENDERERS = [ORJSONRenderer, BrowsableAPIRenderer]
ALERT_SCHEMA_VERSION = "v0_9_1"
MAX_MESSAGES_PER_REQUEST = 1000


class KeysetListViewSet(GenericViewSet):
    """Read-only list + detail over `.values_list()` rows of one table.

    Subclasses set `model`, `count_key` (the trigger-counted key of the
    unfiltered total), `serializer_class` (a RowSerializer: its `sources` are
    the columns read, key first) and `filterset_class`.
    """

    model: type[Model]
    count_key: str = ""
    pagination_class = KeysetPagination
    renderer_classes = RENDERERS
    filter_backends = [DjangoFilterBackend]
    # The filters this request uses, with their cleaned values (set by filter_queryset).
    filter_values: dict[str, Any] = {}

    @property
    def pagination_key(self) -> str:
        return self.model._meta.pk.attname

    def get_queryset(self) -> QuerySet:
        return self.model.objects.values_list(*self.serializer_class.sources)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if not set(self.request.query_params) & set(self.filterset_class.base_filters):
            return queryset  # unfiltered: skip building and validating the filter form
        filterset = DjangoFilterBackend().get_filterset(self.request, queryset, self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        self.filter_values = filterset.active_filters()
        return filterset.qs

    def list_total(self, *, queryset: QuerySet) -> ListCount:
        """The list's `count`: O(1) counter when unfiltered, else bounded."""
        if not self.filter_values:
            return api_selectors.counter_total(key=self.count_key)
        return api_selectors.filtered_total(queryset=queryset)

    def get_object(self) -> Any:
        try:
            key = int(self.kwargs[self.lookup_url_kwarg or "pk"])
        except ValueError:
            raise NotFound() from None
        row = self.get_queryset().filter(pk=key).first()
        if row is None:
            raise NotFound(f"no {self.model._meta.verbose_name} with id {key}")
        return row

    def rows_to_data(self, rows: list) -> list:
        return self.get_serializer(rows, many=True).data

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        rows = self.paginator.paginate_queryset(queryset, request, view=self)
        return self.paginator.get_paginated_response(self.rows_to_data(rows))

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(self.rows_to_data([self.get_object()])[0])


def _list_and_detail(what: str, key: str) -> dict:
    return {
        "list": extend_schema(
            summary=f"List {what}",
            description=f"Keyset-paginated by {key}: follow `next` to walk every row exactly once.",
        ),
        "retrieve": extend_schema(summary=f"One {what[:-1] if what.endswith('s') else what} by {key}"),
    }


@extend_schema_view(**_list_and_detail("diaObjects", "diaObjectId"))
class DiaObjectViewSet(KeysetListViewSet):
    model = DiaObject
    count_key = "elasticc_diaobject"
    serializer_class = serializers.DiaObjectSerializer
    filterset_class = filters.DiaObjectFilter


@extend_schema_view(**_list_and_detail("diaSources", "diaSourceId"))
class DiaSourceViewSet(KeysetListViewSet):
    model = DiaSource
    count_key = "elasticc_diasource"
    serializer_class = serializers.DiaSourceSerializer
    filterset_class = filters.DiaSourceFilter


@extend_schema_view(**_list_and_detail("diaForcedSources", "diaForcedSourceId"))
class DiaForcedSourceViewSet(KeysetListViewSet):
    model = DiaForcedSource
    count_key = "elasticc_diaforcedsource"
    serializer_class = serializers.DiaForcedSourceSerializer
    filterset_class = filters.DiaForcedSourceFilter


@extend_schema_view(**_list_and_detail("diaTruths", "diaSourceId"))
class DiaTruthViewSet(KeysetListViewSet):
    """Per-epoch simulation truth; elasticc_admin members only."""

    permission_classes = [IsAuthenticated, IsElasticcAdmin]
    model = DiaTruth
    count_key = "elasticc_diatruth"
    serializer_class = serializers.DiaTruthSerializer
    filterset_class = filters.DiaTruthFilter


@extend_schema_view(**_list_and_detail("diaObjectTruths", "diaObjectId"))
class DiaObjectTruthViewSet(KeysetListViewSet):
    """Per-object simulation truth (the SNANA DUMP); elasticc_admin members only."""

    permission_classes = [IsAuthenticated, IsElasticcAdmin]
    model = DiaObjectTruth
    count_key = "elasticc_diaobjecttruth"
    serializer_class = serializers.DiaObjectTruthSerializer
    filterset_class = filters.DiaObjectTruthFilter


@extend_schema_view(**_list_and_detail("alerts", "alertId"))
class DiaAlertViewSet(KeysetListViewSet):
    """Full alerts as brokers received them (schema v0_9_1), built by the same
    code that builds the Kafka alerts, plus `alertSentTimestamp`. A page costs
    one keyset query for its ids and the builder's fixed number of queries."""

    model = DiaAlert
    count_key = "elasticc_diaalert"
    serializer_class = serializers.DiaAlertSerializer
    filterset_class = filters.DiaAlertFilter

    def get_queryset(self) -> QuerySet:
        return DiaAlert.objects.values_list("alertid", "alertsenttimestamp")

    def list_total(self, *, queryset: QuerySet) -> ListCount:
        if set(self.filter_values) == {"sent"}:
            if self.filter_values["sent"]:
                return api_selectors.counter_total(key="elasticc_diaalert.sent")
            return api_selectors.unsent_alerts_total()
        return super().list_total(queryset=queryset)

    def rows_to_data(self, rows: list) -> list:
        alerts = alert_builder.build_alerts(
            alert_ids=[alert_id for alert_id, _ in rows], schema_version=ALERT_SCHEMA_VERSION
        )
        sent_field = serializers.DiaAlertSerializer().fields["alertSentTimestamp"]
        sent = dict(rows)
        return [
            {
                **alert,
                "alertSentTimestamp": sent_field.to_representation(sent[alert["alertId"]])
                if sent[alert["alertId"]] is not None
                else None,
            }
            for alert in alerts
        ]


_PUT_BODY_SCHEMA = {
    "description": (
        f"One brokerClassification message or a list of up to {MAX_MESSAGES_PER_REQUEST}, schema v0_9 "
        "(classifierName/classifierParams in each classification) or v0_9_1 (named once per message). "
        "Timestamps are milliseconds since 1970; brokerPublishTimestamp is optional."
    ),
    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}, "maxItems": MAX_MESSAGES_PER_REQUEST}],
}
_PUT_EXAMPLE = OpenApiExample(
    "v0_9_1 message",
    value={
        "alertId": 29194700000,
        "diaSourceId": 29194700000,
        "elasticcPublishTimestamp": 1700000000000,
        "brokerIngestTimestamp": 1700000001000,
        "brokerName": "FakeBroker",
        "brokerVersion": "v1.0",
        "classifierName": "NugentClassifier",
        "classifierParams": "100%",
        "classifications": [{"classId": 111, "probability": 1.0}],
        "brokerPublishTimestamp": 1700000002000,
    },
    request_only=True,
)


@extend_schema_view(
    **_list_and_detail("broker messages", "brokerMessageId"),
    create=extend_schema(
        summary="Submit broker messages (elasticc_broker members; PUT or POST)",
        request={"application/json": _PUT_BODY_SCHEMA},
        examples=[_PUT_EXAMPLE],
        responses={
            201: serializers.BrokerMessageLoadedSerializer,
            400: OpenApiResponse(description="Malformed body; `error` names the list index and field."),
            403: OpenApiResponse(description="Not a member of elasticc_broker."),
        },
    ),
)
class BrokerMessageViewSet(KeysetListViewSet):
    """Broker classifications: list/read for logged-in users, PUT/POST for brokers."""

    permission_classes = [IsAuthenticated, IsElasticcBrokerOrReadOnly]
    model = BrokerMessage
    count_key = "elasticc_brokermessage"
    serializer_class = serializers.BrokerMessageSerializer
    filterset_class = filters.BrokerMessageFilter

    def rows_to_data(self, rows: list) -> list:
        classifications = api_selectors.classifications_of_messages(message_ids=[row[0] for row in rows])
        return super().rows_to_data([(*row, classifications[row[0]]) for row in rows])

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = request.data
        payloads = payload if isinstance(payload, list) else [payload]
        if not payloads:
            raise ParseError("the body is an empty list: send one message or a list of messages")
        if len(payloads) > MAX_MESSAGES_PER_REQUEST:
            raise ParseError(f"at most {MAX_MESSAGES_PER_REQUEST} messages per request, got {len(payloads)}")
        try:
            messages = parse_broker_messages(payloads=payloads)
        except BrokerMessageError as exc:
            return Response(
                {"error": str(exc), "index": exc.index, "field": exc.field}, status=status.HTTP_400_BAD_REQUEST
            )
        result = store_broker_messages(messages=messages)
        headers = {}
        if result.first_brokermessageid is not None:
            headers["Location"] = request.build_absolute_uri(
                reverse("elasticc-api:brokermessage-detail", kwargs={"pk": result.first_brokermessageid})
            )
        else:
            headers["Location"] = request.build_absolute_uri(reverse("elasticc-api:brokermessage-list"))
        return Response(
            {"brokerMessageId": result.first_brokermessageid, "num_loaded": result.num_loaded},
            status=status.HTTP_201_CREATED,
            headers=headers,
        )


class ClassIdsView(APIView):
    """The ELAsTiCC taxonomy: every classId with its gentypes and match flags."""

    renderer_classes = RENDERERS

    @extend_schema(
        summary="Taxonomy (classIds, gentypes, match flags)", responses=serializers.ClassIdSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(api_selectors.taxonomy())


class ClassifiersView(APIView):
    """Every registered broker classifier."""

    renderer_classes = RENDERERS

    @extend_schema(summary="All broker classifiers", responses=serializers.ClassifierSerializer(many=True))
    def get(self, request: Request) -> Response:
        data = api_selectors.classifiers()
        field = serializers.ClassifierSerializer().fields["modified"]
        return Response([{**row, "modified": field.to_representation(row["modified"])} for row in data])


def missing_trailing_slash(request: HttpRequest, path: str) -> HttpResponse:
    """A URL without its trailing slash: GET/HEAD are redirected to the slashed
    URL when that exists (as APPEND_SLASH does), other methods get a 400 JSON
    error rather than Django's DEBUG-only RuntimeError or a 301 that turns a
    POST into a GET."""
    slashed = f"/{path}/"
    try:
        resolve(slashed)
    except Resolver404:
        raise Http404(f"no page at /{path}") from None
    if request.method in ("GET", "HEAD"):
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(slashed + (f"?{query}" if query else ""))
    return JsonResponse(
        {"error": f"URLs of this API end with '/': send {request.method} to {slashed}"},
        status=status.HTTP_400_BAD_REQUEST,
    )
