"""ELAsTiCC pages. (`/elasticc/classifiers/` is the REST list of classifiers,
so the classifier pages live under `/elasticc/metrics/`.)"""

from django.urls import path

from elasticc.pages import views

app_name = "elasticc"

urlpatterns = [
    path("", views.FrontPageView.as_view(), name="index"),
    path("summary/", views.SummaryView.as_view(), name="summary"),
    path("summary/truth/", views.AdminSummaryView.as_view(), name="admin_summary"),
    path("metrics/", views.ClassifierListView.as_view(), name="classifier_list"),
    path("metrics/compare/", views.ClassifierPairView.as_view(), name="classifier_pair"),
    path("metrics/<int:classifierid>/", views.ClassifierMetricsView.as_view(), name="classifier_metrics"),
    path("object/", views.ObjectSearchView.as_view(), name="object_search"),
    path("objects/", views.ObjectBrowserView.as_view(), name="objects"),
    path("object/<int:diaobjectid>/", views.ObjectView.as_view(), name="object"),
    path(
        "object/<int:diaobjectid>/followup/<str:action>/",
        views.ObjectFollowupActionView.as_view(),
        name="object_followup",
    ),
    path("object/<int:diaobjectid>/target/", views.ObjectTargetView.as_view(), name="object_target"),
    path("followup/", views.FollowupView.as_view(), name="followup"),
    path("sql/", views.SqlHelpView.as_view(), name="sql"),
    path("stream/", views.StreamStatusView.as_view(), name="stream"),
]
