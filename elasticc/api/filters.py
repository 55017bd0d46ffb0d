"""django-filter FilterSets of the REST list endpoints.

Every filter maps onto an index (primary keys, `diaobjectid`, `midpointtai`,
(ra, decl), `alertsenttimestamp`, broker message ids), so a filtered page
stays an index range scan. Parameter names are the camelCase Avro names of
the filtered field; id lists are comma-separated (at most `MAX_IDS` ids).
"""

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from elasticc.models import (
    BrokerClassification,
    BrokerMessage,
    DiaAlert,
    DiaForcedSource,
    DiaObject,
    DiaObjectTruth,
    DiaSource,
    DiaTruth,
)
from elasticc.read.sky import box_filter, cone_filter

MAX_IDS = 1000


class IdListFilter(filters.BaseInFilter, filters.NumberFilter):
    """A comma-separated list of integer ids (`?diaObjectId=1,2,3`)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, given to the database in UTC.

    Python accepts UTC offsets up to ±23:59 but PostgreSQL only ±15:59, so
    `0001-01-01T00:00:00-23:59` used to reach the database as is and fail
    there (a 500). In UTC every offset is fine; a time that leaves the years
    1-9999 in UTC is a 400 like any malformed value."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("the time is outside the years 1-9999 in UTC", code="invalid") from None


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def _ids(field_name: str, what: str) -> IdListFilter:
    return IdListFilter(field_name=field_name, help_text=f"Comma-separated {what} (at most {MAX_IDS}).")


class ApiFilterSet(filters.FilterSet):
    """Adds the id-list length limit (a bounded IN list keeps a request cheap)."""

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        for name, value in list(self.form.cleaned_data.items()):
            if isinstance(self.filters[name], IdListFilter) and value and len(value) > MAX_IDS:
                self.form.add_error(name, f"at most {MAX_IDS} ids per request")
        return not self.form.errors

    def active_filters(self) -> dict[str, Any]:
        """The filters this request uses and their cleaned values (valid form only)."""
        return {name: value for name, value in self.form.cleaned_data.items() if value not in (None, "", [])}


class DiaObjectFilter(ApiFilterSet):
    """Objects by id list, by cone (`ra`, `dec`, `radius`, degrees) or by RA/Dec box."""

    diaObjectId = _ids("diaobjectid", "diaObjectIds")
    ra = filters.NumberFilter(help_text="Cone centre RA (deg); with dec and radius.")
    dec = filters.NumberFilter(help_text="Cone centre Dec (deg); with ra and radius.")
    radius = filters.NumberFilter(help_text="Cone radius (deg, 0 < radius <= 180); with ra and dec.")
    ra_min = filters.NumberFilter(help_text="Box: RA >= ra_min (deg). ra_min > ra_max wraps through RA 0.")
    ra_max = filters.NumberFilter(help_text="Box: RA <= ra_max (deg).")
    dec_min = filters.NumberFilter(help_text="Box: Dec >= dec_min (deg).")
    dec_max = filters.NumberFilter(help_text="Box: Dec <= dec_max (deg).")
    isddf = filters.BooleanFilter(help_text="Only deep-drilling (true) or wide-fast-deep (false) objects.")

    cone_params = ("ra", "dec", "radius")
    box_params = ("ra_min", "ra_max", "dec_min", "dec_max")

    class Meta:
        model = DiaObject
        fields = []

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        data = self.form.cleaned_data
        given = [name for name in self.cone_params if data.get(name) is not None]
        if given and len(given) != 3:
            self.form.add_error(None, "a cone search needs all of ra, dec and radius")
        elif given:
            if not -90 <= data["dec"] <= 90:
                self.form.add_error("dec", "must be between -90 and 90")
            if not 0 < data["radius"] <= 180:
                self.form.add_error("radius", "must be greater than 0 and at most 180")
        return not self.form.errors

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        cone = {name: data.pop(name, None) for name in self.cone_params}
        box = {name: data.pop(name, None) for name in self.box_params}
        queryset = super().filter_queryset(queryset)
        if any(value is not None for value in box.values()):
            queryset = box_filter(queryset=queryset, **box)
        if cone["radius"] is not None:
            queryset = cone_filter(
                queryset=queryset, ra=float(cone["ra"]), dec=float(cone["dec"]), radius=float(cone["radius"])
            )
        return queryset


class DiaSourceFilter(ApiFilterSet):
    """Sources by id list, by object and by midPointTai range."""

    diaSourceId = _ids("diasourceid", "diaSourceIds")
    diaObjectId = _ids("diaobject_id", "diaObjectIds")
    midPointTai_min = filters.NumberFilter(
        field_name="midpointtai", lookup_expr="gte", help_text="midPointTai >= (MJD)."
    )
    midPointTai_max = filters.NumberFilter(field_name="midpointtai", lookup_expr="lt", help_text="midPointTai < (MJD).")

    class Meta:
        model = DiaSource
        fields = []


class DiaForcedSourceFilter(ApiFilterSet):
    """Forced sources by id list, by object and by midPointTai range."""

    diaForcedSourceId = _ids("diaforcedsourceid", "diaForcedSourceIds")
    diaObjectId = _ids("diaobject_id", "diaObjectIds")
    midPointTai_min = filters.NumberFilter(
        field_name="midpointtai", lookup_expr="gte", help_text="midPointTai >= (MJD)."
    )
    midPointTai_max = filters.NumberFilter(field_name="midpointtai", lookup_expr="lt", help_text="midPointTai < (MJD).")

    class Meta:
        model = DiaForcedSource
        fields = []


class DiaAlertFilter(ApiFilterSet):
    """Alerts by id list, object, source, sent / not sent and sent-time range."""

    alertId = _ids("alertid", "alertIds")
    diaObjectId = _ids("diaobject_id", "diaObjectIds")
    diaSourceId = _ids("diasource_id", "diaSourceIds")
    sent = filters.BooleanFilter(
        field_name="alertsenttimestamp", lookup_expr="isnull", exclude=True, help_text="true: streamed; false: not yet."
    )
    alertSentTimestamp_min = UtcIsoDateTimeFilter(
        field_name="alertsenttimestamp", lookup_expr="gte", help_text="Sent at or after (ISO 8601)."
    )
    alertSentTimestamp_max = UtcIsoDateTimeFilter(
        field_name="alertsenttimestamp", lookup_expr="lt", help_text="Sent before (ISO 8601)."
    )

    class Meta:
        model = DiaAlert
        fields = []


class DiaTruthFilter(ApiFilterSet):
    diaSourceId = _ids("diasourceid", "diaSourceIds")
    diaObjectId = _ids("diaobjectid", "diaObjectIds")
    detect = filters.BooleanFilter(help_text="Only detected (true) or undetected (false) epochs.")

    class Meta:
        model = DiaTruth
        fields = []


class DiaObjectTruthFilter(ApiFilterSet):
    diaObjectId = _ids("diaobjectid", "diaObjectIds")
    gentype = IdListFilter(field_name="gentype", help_text="Comma-separated SNANA gentypes.")

    class Meta:
        model = DiaObjectTruth
        fields = []


class BrokerMessageFilter(ApiFilterSet):
    """Broker messages by alert, source, object (through its sources) and classifier."""

    alertId = _ids("alertid", "alertIds")
    diaSourceId = _ids("diasourceid", "diaSourceIds")
    diaObjectId = IdListFilter(method="filter_object", help_text=f"Comma-separated diaObjectIds (at most {MAX_IDS}).")
    classifierId = IdListFilter(method="filter_classifier", help_text="Comma-separated classifierIds.")

    class Meta:
        model = BrokerMessage
        fields = []

    def filter_object(self, queryset: QuerySet, name: str, value: list) -> QuerySet:
        sources = DiaSource.objects.filter(diaobject_id__in=value).values("diasourceid")
        return queryset.filter(diasourceid__in=sources)

    def filter_classifier(self, queryset: QuerySet, name: str, value: list) -> QuerySet:
        messages = BrokerClassification.objects.filter(classifier_id__in=value).values("brokermessage_id")
        return queryset.filter(brokermessageid__in=messages)
