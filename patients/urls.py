"""Staff pages of the patients app, mounted under /staff/patients/."""

from django.urls import path

from patients import views

urlpatterns = [
    path("new/", views.patient_register, name="patient-register"),
]
