from django.urls import path

from db import views

app_name = "db"

urlpatterns = [
    path("runsqlquery/", views.RunSqlQueryView.as_view(), name="runsqlquery"),
    path("submitsqlquery/", views.SubmitSqlQueryView.as_view(), name="submitsqlquery"),
    # Any id, so a malformed one gets the endpoint's 200 {"status": "error"},
    # which the original's clients expect, not an HTML 404.
    path("checksqlquery/<str:queryid>/", views.CheckSqlQueryView.as_view(), name="checksqlquery"),
    path("getsqlqueryresults/<str:queryid>/", views.GetSqlQueryResultsView.as_view(), name="getsqlqueryresults"),
]
