"""`{% research_jobs_panel patient %}`: the patient page's research section (jobs, brief, sources)."""

from __future__ import annotations

from typing import Any

from django import template

from agents import services

register = template.Library()


@register.inclusion_tag("agents/research_job_list.html", takes_context=True)
def research_jobs_panel(context: template.Context, patient: Any) -> dict[str, Any]:
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "patient": patient,
        "research_jobs": services.research_jobs_for_patient(patient=patient),
    }
