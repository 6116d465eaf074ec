from django.contrib import admin
from django.urls import include, path

from intake import account_views, views
from intake.api import api

staff_patterns = (
    [
        path("", views.staff_dashboard, name="dashboard"),
        path("dashboard/rows", views.staff_dashboard_rows, name="dashboard-rows"),
        path("patients/", include("patients.urls")),
        path("patients/<int:patient_id>/", views.staff_patient, name="patient"),
        path("patients/<int:patient_id>/intakes/", views.staff_intake_start, name="intake-start"),
        path("intakes/<int:intake_id>/revoke", views.staff_intake_revoke, name="intake-revoke"),
        path("kiosk/", views.staff_kiosk_enter, name="kiosk"),
    ],
    "staff",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("accounts/mfa/", account_views.mfa, name="mfa"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/research/", include("agents.urls")),
    path("staff/", include(staff_patterns)),
    # The link's first visit moves the token out of the URL; the chat itself lives at /i/.
    path("i/", views.patient_chat, name="patient-chat-current"),
    path("i/review", views.patient_chat_review, name="patient-chat-review"),
    path("i/<str:token>/", views.patient_chat_enter, name="patient-chat"),
]
