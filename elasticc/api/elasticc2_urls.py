"""URLs of the /elasticc2/ namespace: the original DESC TOM's ELAsTiCC2 paths,
which brokers and clients still use. One database serves both prefixes: the
simulation tables, alerts and broker messages are the same endpoints as under
/elasticc/ (elasticc/api/urls.py), plus the original's path forms and JSON shapes,
and the follow-up API (elasticc/followup/api.py; README, "Follow-up coordination")."""

from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema

from elasticc.api import views
from elasticc.followup import api as followup


def _followup(name: str, view: type, *aliases: str) -> list:
    """`name/` (documented) plus `name` and each alias with and without the
    slash: the original's clients post to the path without one."""
    hidden = extend_schema(exclude=True)(type(f"{view.__name__}Alias", (view,), {}))
    return [
        path(f"{name}/", view.as_view(), name=f"followup-{name}"),
        re_path(rf"^(?:{'|'.join((name, *aliases))})/?$", hidden.as_view()),
    ]


urlpatterns = [
    path("brokermessage/alertid=<int:alertid>/", views.BrokerMessagesOfAlertView.as_view(), name="brokermessage-alert"),
    re_path(r"^classids/?$", views.Elasticc2ClassIdsView.as_view(), name="elasticc2-classids"),
    re_path(r"^classifiers_json/?$", views.Elasticc2ClassifiersView.as_view(), name="elasticc2-classifiers"),
    *_followup("ltcv", followup.LightCurvesView, "ltcvs"),
    *_followup("gethottransients", followup.HotTransientsView),
    *_followup("askforspectrum", followup.AskForSpectrumView),
    *_followup("spectrawanted", followup.SpectraWantedView),
    *_followup("planspectrum", followup.PlanSpectrumView),
    *_followup("removespectrumplan", followup.RemoveSpectrumPlanView),
    *_followup("reportspectruminfo", followup.ReportSpectrumInfoView),
    *_followup("getknownspectruminfo", followup.KnownSpectrumInfoView),
    *_followup("maketarget", followup.MakeTargetView),
    path("", include("elasticc.api.urls")),
]
