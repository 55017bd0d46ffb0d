from django.urls import path

from db import views

app_name = "db"

urlpatterns = [
    path("runsqlquery/", views.RunSqlQueryView.as_view(), name="runsqlquery"),
    path("submitsqlquery/", views.SubmitSqlQueryView.as_view(), name="submitsqlquery"),
    path("checksqlquery/<uuid:queryid>/", views.CheckSqlQueryView.as_view(), name="checksqlquery"),
    path("getsqlqueryresults/<uuid:queryid>/", views.GetSqlQueryResultsView.as_view(), name="getsqlqueryresults"),
]
