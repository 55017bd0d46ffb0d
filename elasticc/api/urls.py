"""URLs of the REST API, mounted at /elasticc/ before the ELAsTiCC pages.

Explicit paths rather than a DRF router: the broker-message list route takes
PUT as well as POST, and a router's API root would shadow the /elasticc/
front page.
"""

from django.urls import path

from elasticc.api import metrics_views, views

app_name = "elasticc-api"

_READ = {"get": "list"}
_ONE = {"get": "retrieve"}

urlpatterns = [
    path("diaobject/", views.DiaObjectViewSet.as_view(_READ), name="diaobject-list"),
    path("diaobject/<int:pk>/", views.DiaObjectViewSet.as_view(_ONE), name="diaobject-detail"),
    path("diasource/", views.DiaSourceViewSet.as_view(_READ), name="diasource-list"),
    path("diasource/<int:pk>/", views.DiaSourceViewSet.as_view(_ONE), name="diasource-detail"),
    path("diaforcedsource/", views.DiaForcedSourceViewSet.as_view(_READ), name="diaforcedsource-list"),
    path("diaforcedsource/<int:pk>/", views.DiaForcedSourceViewSet.as_view(_ONE), name="diaforcedsource-detail"),
    path("diaalert/", views.DiaAlertViewSet.as_view(_READ), name="diaalert-list"),
    path("diaalert/<int:pk>/", views.DiaAlertViewSet.as_view(_ONE), name="diaalert-detail"),
    path("diatruth/", views.DiaTruthViewSet.as_view(_READ), name="diatruth-list"),
    path("diatruth/<int:pk>/", views.DiaTruthViewSet.as_view(_ONE), name="diatruth-detail"),
    path("diaobjecttruth/", views.DiaObjectTruthViewSet.as_view(_READ), name="diaobjecttruth-list"),
    path("diaobjecttruth/<int:pk>/", views.DiaObjectTruthViewSet.as_view(_ONE), name="diaobjecttruth-detail"),
    path(
        "brokermessage/",
        views.BrokerMessageViewSet.as_view({"get": "list", "put": "create", "post": "create"}),
        name="brokermessage-list",
    ),
    path("brokermessage/<int:pk>/", views.BrokerMessageViewSet.as_view(_ONE), name="brokermessage-detail"),
    path("classids/", views.ClassIdsView.as_view(), name="classids"),
    path("classifiers/", views.ClassifiersView.as_view(), name="classifiers"),
    # The data of every metrics chart and table (JSON or ?format=csv).
    path("metricsdata/comparison/", metrics_views.ComparisonView.as_view(), name="metrics-comparison"),
    path("metricsdata/stream/nights/", metrics_views.StreamNightsView.as_view(), name="metrics-stream-nights"),
    path("metricsdata/stream/lag/", metrics_views.StreamLagView.as_view(), name="metrics-stream-lag"),
    path("metricsdata/pair/f1/", metrics_views.PairF1View.as_view(), name="metrics-pair-f1"),
    path(
        "metricsdata/comparison/classes/",
        metrics_views.ComparisonClassesView.as_view(),
        name="metrics-comparison-classes",
    ),
    path("metricsdata/<int:classifierid>/delays/", metrics_views.DelaysView.as_view(), name="metrics-delays"),
    path(
        "metricsdata/<int:classifierid>/completeness/",
        metrics_views.CompletenessView.as_view(),
        name="metrics-completeness",
    ),
    path("metricsdata/<int:classifierid>/confusion/", metrics_views.ConfusionView.as_view(), name="metrics-confusion"),
    path(
        "metricsdata/<int:classifierid>/trueprob/",
        metrics_views.TrueProbabilityView.as_view(),
        name="metrics-trueprob",
    ),
    path(
        "metricsdata/object/<int:diaobjectid>/alerts/", metrics_views.ObjectAlertsView.as_view(), name="object-alerts"
    ),
    path(
        "metricsdata/object/<int:diaobjectid>/lightcurve/",
        metrics_views.ObjectLightCurveView.as_view(),
        name="object-lightcurve",
    ),
    path(
        "metricsdata/object/<int:diaobjectid>/classifications/",
        metrics_views.ObjectClassificationsView.as_view(),
        name="object-classifications",
    ),
]
