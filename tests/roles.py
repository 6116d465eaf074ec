"""Test helper: put a user in the clinic's role groups (patients/roles.py)."""

from __future__ import annotations

from django.contrib.auth.models import Group, User

from patients.roles import REVIEWERS_GROUP, STAFF_GROUP, roles_ensure


def grant_roles(user: User, *groups: str) -> User:
    """Add `user` to `groups` (default: both roles, a clinician who also works the desk)."""
    roles_ensure()
    user.groups.add(*Group.objects.filter(name__in=groups or (STAFF_GROUP, REVIEWERS_GROUP)))
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache
