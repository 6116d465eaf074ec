"""Staff pages of the patients app, mounted under /staff/patients/."""

from django.urls import path

from patients import views

urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("new/", views.patient_register, name="patient-register"),
]
