"""Serializers of the REST API: camelCase Avro keys over `.values()` rows.

The JSON key of every simulation column comes from `elasticc.avro.columns` (the
one place for the camelCase <-> column mapping). A row serializer knows its
columns (`sources`, ORM attribute names, key column first); views select
exactly those with `QuerySet.values_list()` and `to_representation` zips each
tuple with the JSON keys, instead of DRF's per-field machinery: a page of
1,000 objects has 80,000 values, and field-by-field serialization would cost
more than the query. The declared fields still give drf-spectacular exact
types for the OpenAPI schema.
"""

from typing import Any

from django.db import models
from rest_framework import serializers

from elasticc.avro.columns import (
    DIAFORCEDSOURCE_AVRO_FIELDS,
    DIAOBJECT_AVRO_FIELDS,
    DIAOBJECTTRUTH_COLUMNS,
    DIASOURCE_AVRO_FIELDS,
    avro_fields,
    column,
)
from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION
from elasticc.models import BrokerMessage, DiaForcedSource, DiaObject, DiaObjectTruth, DiaSource, DiaTruth

_FIELD_TYPES: dict[type, type] = {
    models.BigAutoField: serializers.IntegerField,
    models.AutoField: serializers.IntegerField,
    models.BigIntegerField: serializers.IntegerField,
    models.IntegerField: serializers.IntegerField,
    models.SmallIntegerField: serializers.IntegerField,
    models.FloatField: serializers.FloatField,
    models.TextField: serializers.CharField,
    models.BooleanField: serializers.BooleanField,
    models.DateTimeField: serializers.DateTimeField,
}


def _serializer_field(model_field: models.Field, *, key: str, source: str) -> serializers.Field:
    kwargs: dict[str, Any] = {"read_only": True, "allow_null": model_field.null}
    if source != key:
        kwargs["source"] = source
    if isinstance(model_field, models.ForeignKey):
        return serializers.IntegerField(**kwargs)
    for model_type, field_type in _FIELD_TYPES.items():
        if isinstance(model_field, model_type):
            return field_type(**kwargs)
    raise TypeError(f"no serializer field for {model_field!r}")


def attnames(model: type[models.Model], columns: list[str] | tuple[str, ...]) -> list[str]:
    """ORM attribute names (what `.values()` takes and returns) of SQL columns."""
    by_column = {field.column: field.attname for field in model._meta.concrete_fields}
    return [by_column[name] for name in columns]


class RowSerializer(serializers.Serializer):
    """Base of the row serializers; subclasses come from `row_serializer`.
    Instances are `values_list(*sources)` tuples (extra trailing items are ignored)."""

    keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    datetime_keys: frozenset[str] = frozenset()

    def to_representation(self, instance: tuple) -> dict[str, Any]:
        data = dict(zip(self.keys, instance))  # noqa: B905 (rows may carry extra trailing items)
        for key in self.datetime_keys:
            if data[key] is not None:
                data[key] = self.fields[key].to_representation(data[key])
        return data


def row_serializer(
    name: str, model: type[models.Model], keys_and_columns: list[tuple[str, str]]
) -> type[RowSerializer]:
    """A RowSerializer class named `name` emitting JSON `key` for each SQL column."""
    sources = attnames(model, [col for _, col in keys_and_columns])
    keys = [key for key, _ in keys_and_columns]
    attrs: dict[str, Any] = {"__module__": __name__, "keys": tuple(keys), "sources": tuple(sources)}
    datetime_keys = set()
    for (key, col), source in zip(keys_and_columns, sources, strict=True):
        model_field = next(f for f in model._meta.concrete_fields if f.column == col)
        attrs[key] = _serializer_field(model_field, key=key, source=source)
        if isinstance(model_field, models.DateTimeField):
            datetime_keys.add(key)
    attrs["datetime_keys"] = frozenset(datetime_keys)
    return type(name, (RowSerializer,), attrs)


def _avro_pairs(fields: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, column(name)) for name in fields]


DiaObjectSerializer = row_serializer(
    "DiaObjectSerializer", DiaObject, [*_avro_pairs(DIAOBJECT_AVRO_FIELDS), ("isddf", "isddf")]
)
DiaSourceSerializer = row_serializer("DiaSourceSerializer", DiaSource, _avro_pairs(DIASOURCE_AVRO_FIELDS))
DiaForcedSourceSerializer = row_serializer(
    "DiaForcedSourceSerializer", DiaForcedSource, _avro_pairs(DIAFORCEDSOURCE_AVRO_FIELDS)
)
DiaTruthSerializer = row_serializer(
    "DiaTruthSerializer",
    DiaTruth,
    [
        ("diaSourceId", "diasourceid"),
        ("diaObjectId", "diaobjectid"),
        ("mjd", "mjd"),
        ("detect", "detect"),
        ("gentype", "gentype"),
        ("genmag", "genmag"),
    ],
)
DiaObjectTruthSerializer = row_serializer(
    "DiaObjectTruthSerializer",
    DiaObjectTruth,
    [("diaObjectId", "diaobjectid"), *((name, name) for name in DIAOBJECTTRUTH_COLUMNS[1:])],
)
BrokerMessageRowSerializer = row_serializer(
    "BrokerMessageRowSerializer",
    BrokerMessage,
    [
        ("brokerMessageId", "brokermessageid"),
        ("alertId", "alertid"),
        ("diaSourceId", "diasourceid"),
        ("topicName", "topicname"),
        ("kafkaPartition", "kafkapartition"),
        ("streamMessageId", "streammessageid"),
        ("msgHdrTimestamp", "msghdrtimestamp"),
        ("elasticcPublishTimestamp", "elasticcpublishtimestamp"),
        ("brokerIngestTimestamp", "brokeringesttimestamp"),
        ("descIngestTimestamp", "descingesttimestamp"),
    ],
)


class ClassificationSerializer(serializers.Serializer):
    """One classification of a broker message, with its classifier's names
    (a row of `selectors.classifications_of_messages`)."""

    classifierId = serializers.IntegerField(source="classifierid")
    brokerName = serializers.CharField(source="brokername")
    brokerVersion = serializers.CharField(source="brokerversion")
    classifierName = serializers.CharField(source="classifiername")
    classifierParams = serializers.CharField(source="classifierparams")
    classId = serializers.IntegerField(source="classid")
    probability = serializers.FloatField()

    def to_representation(self, instance: dict) -> dict[str, Any]:
        return classification_json(instance)


# Plain values need no per-field conversion, only renamed keys (a page holds
# up to 1,000 messages with several classifications each).
_CLASSIFICATION_KEYS = tuple((name, field.source) for name, field in ClassificationSerializer().fields.items())


def classification_json(row: dict) -> dict[str, Any]:
    """The JSON of one classification row."""
    return {key: row[source] for key, source in _CLASSIFICATION_KEYS}


class BrokerMessageSerializer(BrokerMessageRowSerializer):
    """A broker message with its classifications (rows carry them as their last item)."""

    classifications = ClassificationSerializer(many=True, read_only=True)

    def to_representation(self, instance: tuple) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["classifications"] = [classification_json(row) for row in instance[-1]]
        return data


# --- Schema-only serializers: the view returns what they describe as built
# elsewhere (alerts by elasticc.stream.alert_builder, JSON documents by selectors).

AlertDiaSourceSerializer = row_serializer(
    "AlertDiaSourceSerializer", DiaSource, _avro_pairs(avro_fields(DIASOURCE_AVRO_FIELDS, DEFAULT_SCHEMA_VERSION))
)
AlertDiaForcedSourceSerializer = row_serializer(
    "AlertDiaForcedSourceSerializer",
    DiaForcedSource,
    _avro_pairs(avro_fields(DIAFORCEDSOURCE_AVRO_FIELDS, DEFAULT_SCHEMA_VERSION)),
)
AlertDiaObjectSerializer = row_serializer(
    "AlertDiaObjectSerializer", DiaObject, _avro_pairs(avro_fields(DIAOBJECT_AVRO_FIELDS, DEFAULT_SCHEMA_VERSION))
)


class DiaAlertSerializer(serializers.Serializer):
    """A full alert as brokers received it (schema v0_9_1) plus when it was sent."""

    alertId = serializers.IntegerField()
    diaSource = AlertDiaSourceSerializer()
    prvDiaSources = AlertDiaSourceSerializer(many=True)
    prvDiaForcedSources = AlertDiaForcedSourceSerializer(many=True)
    diaObject = AlertDiaObjectSerializer()
    alertSentTimestamp = serializers.DateTimeField(allow_null=True)


class GentypeSerializer(serializers.Serializer):
    gentype = serializers.IntegerField(allow_null=True)
    description = serializers.CharField()


class GentypeMatchSerializer(serializers.Serializer):
    gentype = serializers.IntegerField()
    exactMatch = serializers.BooleanField(source="exactmatch")
    categoryMatch = serializers.BooleanField(source="categorymatch")
    generalMatch = serializers.BooleanField(source="generalmatch", allow_null=True, help_text="Null in ELAsTiCC.")
    broadMatch = serializers.BooleanField(source="broadmatch")
    description = serializers.CharField()


class ClassIdSerializer(serializers.Serializer):
    """A taxonomy class: `taxonomy` says which ("elasticc", 3-digit, or
    "elasticc2", 4-digit), `gentypes` are the models that are exactly this
    class, `gentypeMatches` every gentype it covers with the match flags."""

    taxonomy = serializers.CharField()
    classId = serializers.IntegerField(source="classid")
    name = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    level = serializers.IntegerField()
    gentypes = GentypeSerializer(many=True)
    gentypeMatches = GentypeMatchSerializer(many=True, source="gentype_matches")


class ClassifierSerializer(serializers.Serializer):
    classifierId = serializers.IntegerField(source="classifierid")
    brokerName = serializers.CharField(source="brokername")
    brokerVersion = serializers.CharField(source="brokerversion")
    classifierName = serializers.CharField(source="classifiername")
    classifierParams = serializers.CharField(source="classifierparams")
    modified = serializers.DateTimeField()
    numClassifications = serializers.IntegerField(source="numclassifications")
    taxonomy = serializers.CharField(
        source="evaluatedtaxonomy", help_text="The taxonomy its metrics are computed in (elasticc or elasticc2)."
    )
    taxonomyChosen = serializers.CharField(
        source="taxonomy", allow_null=True, help_text="Set by an admin or its broker source; null: the default rule."
    )


class BrokerMessageLoadedSerializer(serializers.Serializer):
    """Response of a broker-message PUT/POST."""

    brokerMessageId = serializers.IntegerField(allow_null=True, help_text="First newly stored message id.")
    num_loaded = serializers.IntegerField(help_text="Messages stored (0 for a replay).")


def elasticc2_classids_json(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """The original `/elasticc2/classids` answer from `classes_with_gentypes` rows."""
    return {
        str(row["classid"]): {
            "description": row["name"],
            "gentype": list(row["gentypes"]),
            "exactmatch": row["exactmatch"],
            "categorymatch": row["categorymatch"],
            "generalmatch": row["generalmatch"],
            "broadmatch": row["broadmatch"],
        }
        for row in rows
    }


_CLASSIFIER_NAME_KEYS = ("brokername", "brokerversion", "classifiername", "classifierparams")


def classifiers_by_id_json(rows: list[dict]) -> dict[str, dict[str, str]]:
    """The original `/elasticc2/classifiers_json` answer from `selectors.classifiers` rows."""
    return {str(row["classifierid"]): {key: row[key] for key in _CLASSIFIER_NAME_KEYS} for row in rows}
