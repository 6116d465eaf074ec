"""Staff endpoints for Deep Research jobs, mounted at /staff/research/."""

from django.urls import path

from agents import views

app_name = "research"

urlpatterns = [
    path("summaries/<int:summary_id>/", views.research_request_for_summary, name="request-summary"),
    path("patients/<int:patient_id>/", views.research_request_for_patient, name="request-patient"),
    path("<int:job_id>/", views.research_job_detail, name="detail"),
    path("<int:job_id>/status", views.research_job_status, name="status"),
    path("<int:job_id>/cancel", views.research_job_cancel, name="cancel"),
]
