from django.contrib import admin
from django.urls import include, path

from intake import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/research/", include("agents.urls")),
]
