"""REST API views. Thin: querying lives in `elasticc.read.selectors`, paging in
`elasticc.api.pagination`, filtering in `elasticc.api.filters`, alert
building in `elasticc.stream.alert_builder` and broker-message storage in
`elasticc.brokers.storage`.

Every list is keyset-paginated on its primary key (`pagination_key`) and
reads `.values_list()` rows (key first), so a page is one index range scan
plus, for totals, one counter lookup.
"""

from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django.urls import reverse
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

from elasticc.api import filters, serializers
from elasticc.api.pagination import KeysetPagination
from elasticc.api.permissions import IsElasticcAdmin, IsElasticcBrokerOrReadOnly
from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION
from elasticc.brokers.parsing import BrokerMessageError, parse_broker_messages
from elasticc.brokers.storage import (
    Account,
    ClassifierLimitError,
    is_refused_for_content,
    store_broker_messages,
)
from elasticc.models import (
    BrokerMessage,
    DiaAlert,
    DiaForcedSource,
    DiaObject,
    DiaObjectTruth,
    DiaSource,
    DiaTruth,
)
from elasticc.read import selectors
from elasticc.read.counts import ALERTS_SENT_KEY, ListCount, list_total
from elasticc.stream import alert_builder
from elasticc.taxonomy.taxonomies import ELASTICC2
from tom_desc.api.renderers import ORJSONRenderer

RENDERERS = [ORJSONRenderer, BrowsableAPIRenderer]
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
            return list_total(key=self.count_key)
        return list_total(queryset=queryset)

    def get_object(self) -> Any:
        try:
            key = int(self.kwargs[self.lookup_url_kwarg or "pk"])
        except (KeyError, ValueError):
            # KeyError: a list route has no object (OPTIONS on /brokermessage/, whose
            # PUT creates, makes DRF's metadata ask for one to describe the PUT form).
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
                return list_total(key=ALERTS_SENT_KEY)
            return list_total(key="elasticc_diaalert", minus_key=ALERTS_SENT_KEY)
        return super().list_total(queryset=queryset)

    def rows_to_data(self, rows: list) -> list:
        alerts = alert_builder.build_alerts(
            alert_ids=[alert_id for alert_id, _ in rows], schema_version=DEFAULT_SCHEMA_VERSION
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
        classifications = selectors.classifications_of_messages(message_ids=[row[0] for row in rows])
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
        account = Account(user_id=request.user.pk, max_classifiers=settings.BROKER_MAX_CLASSIFIERS_PER_ACCOUNT)
        try:
            result = store_broker_messages(messages=messages, account=account)
        except ClassifierLimitError as exc:
            return Response(
                {"error": str(exc), "limit": exc.limit, "setting": "BROKER_MAX_CLASSIFIERS_PER_ACCOUNT"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except Exception as exc:
            # Validation bounds what it can; what the database still refuses
            # for the content is the client's error, and nothing was stored.
            if not is_refused_for_content(exc):
                raise
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return Response(
                {"error": f"the database refused the messages: {reason}"}, status=status.HTTP_400_BAD_REQUEST
            )
        headers = {}
        if result.first_brokermessageid is not None:
            headers["Location"] = request.build_absolute_uri(
                reverse(
                    f"{request.resolver_match.namespace}:brokermessage-detail",
                    kwargs={"pk": result.first_brokermessageid},
                )
            )
        else:
            headers["Location"] = request.build_absolute_uri(
                reverse(f"{request.resolver_match.namespace}:brokermessage-list")
            )
        return Response(
            {"brokerMessageId": result.first_brokermessageid, "num_loaded": result.num_loaded},
            status=status.HTTP_201_CREATED,
            headers=headers,
        )


class ClassIdsView(APIView):
    """Both taxonomies (ELAsTiCC and ELAsTiCC2, each row names its own): every
    classId with its gentypes and match flags."""

    renderer_classes = RENDERERS

    @extend_schema(
        summary="Taxonomy (classIds, gentypes, match flags)", responses=serializers.ClassIdSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(serializers.ClassIdSerializer(selectors.taxonomy(), many=True).data)


class ClassifiersView(APIView):
    """Every registered broker classifier."""

    renderer_classes = RENDERERS

    @extend_schema(summary="All broker classifiers", responses=serializers.ClassifierSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(serializers.ClassifierSerializer(selectors.classifiers(), many=True).data)


# --- the original /elasticc2/ answers (JSON shapes its clients read) -----------------------


class BrokerMessagesOfAlertView(APIView):
    """`/elasticc2/brokermessage/alertid=<id>/`: every broker message about one alert."""

    renderer_classes = RENDERERS

    @extend_schema(summary="Broker messages of one alert", responses=serializers.BrokerMessageSerializer(many=True))
    def get(self, request: Request, alertid: int) -> Response:
        ids = selectors.broker_message_ids_of_alert(alertid=alertid)
        rows = list(
            BrokerMessage.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list(*serializers.BrokerMessageSerializer.sources)
        )
        classifications = selectors.classifications_of_messages(message_ids=ids)
        return Response(
            serializers.BrokerMessageSerializer([(*row, classifications[row[0]]) for row in rows], many=True).data
        )


class Elasticc2ClassIdsView(APIView):
    """`/elasticc2/classids`: the ELAsTiCC2 taxonomy as the original served it,
    an object keyed by classId."""

    renderer_classes = RENDERERS

    @extend_schema(
        summary="ELAsTiCC2 classIds, keyed by classId (the original's shape)",
        responses=OpenApiResponse(
            description='{"<classId>": {"description", "gentype": [...], "exactmatch", "categorymatch", '
            '"generalmatch", "broadmatch"}}'
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(serializers.elasticc2_classids_json(selectors.classes_with_gentypes(taxonomy=ELASTICC2)))


class Elasticc2ClassifiersView(APIView):
    """`/elasticc2/classifiers_json`: every classifier, keyed by id (the original's shape)."""

    renderer_classes = RENDERERS

    @extend_schema(
        summary="Classifiers keyed by classifierId (the original's shape)",
        responses=OpenApiResponse(
            description='{"<classifierId>": {"brokername", "brokerversion", "classifiername", "classifierparams"}}'
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(serializers.classifiers_by_id_json(selectors.classifiers()))
