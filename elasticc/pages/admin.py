"""The ELAsTiCC tables in the Django admin (`/admin/`, staff only).

Simulation data, alerts, truth and broker messages are data: shown read-only,
and the big tables page without counting themselves (PostgreSQL's estimate,
as the REST lists do). A classifier's taxonomy is the one thing an admin
edits here; saving it rebuilds the metrics in that taxonomy.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest
from django.utils.functional import cached_property

from elasticc import models
from elasticc.brokers.classifier_taxonomy import choose_taxonomy, rebuild_metrics
from elasticc.read.counts import list_total


class EstimatedCountPaginator(Paginator):
    """Pages of a big table without COUNT(*): exact up to a few thousand rows, else the planner's estimate."""

    @cached_property
    def count(self) -> int:
        return list_total(queryset=self.object_list).value


class ReadOnlyAdmin(admin.ModelAdmin):
    """Data tables: browse and search, never edit."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.DiaObject)
class DiaObjectAdmin(ReadOnlyAdmin):
    list_display = ("diaobjectid", "ra", "decl", "isddf", "simversion")
    search_fields = ("=diaobjectid",)


@admin.register(models.DiaSource)
class DiaSourceAdmin(ReadOnlyAdmin):
    list_display = ("diasourceid", "diaobject_id", "midpointtai", "filtername", "psflux", "snr")
    search_fields = ("=diasourceid",)


@admin.register(models.DiaAlert)
class DiaAlertAdmin(ReadOnlyAdmin):
    list_display = ("alertid", "diasource_id", "diaobject_id", "alertsenttimestamp")
    search_fields = ("=alertid",)


@admin.register(models.DiaObjectTruth)
class DiaObjectTruthAdmin(ReadOnlyAdmin):
    list_display = ("diaobjectid", "gentype", "zcmb", "peakmjd")
    search_fields = ("=diaobjectid",)


@admin.register(models.BrokerMessage)
class BrokerMessageAdmin(ReadOnlyAdmin):
    list_display = ("brokermessageid", "alertid", "diasourceid", "topicname", "descingesttimestamp")
    search_fields = ("=alertid",)


@admin.register(models.BrokerClassifier)
class BrokerClassifierAdmin(admin.ModelAdmin):
    """Choose the taxonomy a classifier is evaluated in (blank: the default rule)."""

    list_display = (
        "classifierid",
        "brokername",
        "brokerversion",
        "classifiername",
        "classifierparams",
        "taxonomy",
        "evaluatedtaxonomy",
    )
    list_filter = ("evaluatedtaxonomy", "brokername")
    fields = ("brokername", "brokerversion", "classifiername", "classifierparams", "defaulttaxonomy", "taxonomy")
    readonly_fields = ("brokername", "brokerversion", "classifiername", "classifierparams", "defaulttaxonomy")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # classifiers register themselves with their first message

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: models.BrokerClassifier, form: Any, change: bool) -> None:
        evaluated = choose_taxonomy(classifierid=obj.classifierid, taxonomy=obj.taxonomy or None)

        def rebuild() -> None:
            result = rebuild_metrics()
            if result.skipped:
                messages.warning(request, "Another metrics refresh is running: run refresh_elasticc_metrics --full.")
            else:
                messages.info(request, f"Metrics rebuilt in {evaluated} from {result.messages} messages.")

        transaction.on_commit(rebuild)


class FollowupAdmin(admin.ModelAdmin):
    """Follow-up rows are people's decisions: admins may correct or delete a
    wrong one. Objects are picked by id (a select of every object would load
    the whole table)."""

    raw_id_fields = ("diaobject", "user")
    list_select_related = ("user",)
    search_fields = ("=diaobject__diaobjectid",)


@admin.register(models.WantedSpectrum)
class WantedSpectrumAdmin(FollowupAdmin):
    list_display = ("diaobject_id", "requester", "priority", "user", "wanttime")
    list_filter = ("requester", "priority")


@admin.register(models.PlannedSpectrum)
class PlannedSpectrumAdmin(FollowupAdmin):
    list_display = ("diaobject_id", "facility", "plantime", "user", "created_at")
    list_filter = ("facility",)


@admin.register(models.SpectrumInfo)
class SpectrumInfoAdmin(FollowupAdmin):
    list_display = ("diaobject_id", "facility", "mjd", "z", "classid", "user", "reportedat")
    list_filter = ("facility", "classid")
