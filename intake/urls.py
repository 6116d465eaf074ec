from django.contrib import admin
from django.urls import include, path

from intake import views
from intake.api import api

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/research/", include("agents.urls")),
]
