"""ELAsTiCC pages. (`/elasticc/classifiers/` is the REST list of classifiers,
so the classifier pages live under `/elasticc/metrics/`.)"""

from django.urls import path

from elasticc import views

app_name = "elasticc"

urlpatterns = [
    path("", views.FrontPageView.as_view(), name="index"),
    path("summary/", views.SummaryView.as_view(), name="summary"),
    path("summary/truth/", views.AdminSummaryView.as_view(), name="admin_summary"),
    path("metrics/", views.ClassifierListView.as_view(), name="classifier_list"),
    path("metrics/<int:classifierid>/", views.ClassifierMetricsView.as_view(), name="classifier_metrics"),
    path("object/", views.ObjectSearchView.as_view(), name="object_search"),
    path("object/<int:diaobjectid>/", views.ObjectView.as_view(), name="object"),
]
