from django.urls import path

from elasticc import views

app_name = "elasticc"

urlpatterns = [
    path("", views.FrontPageView.as_view(), name="index"),
]
