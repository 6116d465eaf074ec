import pytest
from django.core.exceptions import ImproperlyConfigured

from intake import settings as app_settings
from patients.models import AppendOnlyError, AuditEvent


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        app_settings.env_bool("X_FLAG", True)


@pytest.mark.django_db
def test_audit_events_are_append_only():
    event = AuditEvent.objects.create(action="chart.read", object_type="Patient", object_id="1")
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "chart.read"
