"""The audit log: one call, :func:`audit_record`, used by every service that changes what the
platform may do (kill switches, models, retraining, restores). Entries are append-only."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditEntry

SYSTEM_PREFIX = "system:"


def actor_name(actor: Any) -> str:
    """A user's username, a string as given (``system:risk``), or ``system`` for None."""
    if actor is None:
        return "system"
    username = getattr(actor, "get_username", None)
    return username() if callable(username) else str(actor)


def audit_record(actor: Any, action: str, *, target: models.Model | None = None,
                 reason: str = "", details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry: ``actor`` (user, name or None) did ``action`` to ``target``."""
    fields: dict[str, Any] = {"actor": actor_name(actor)[:150], "action": action[:60],
                              "reason": reason, "details": details or {}}
    if target is not None:
        fields.update(target_type=target._meta.label_lower, target_id=str(target.pk),
                      target_repr=str(target)[:200])
    return AuditEntry.objects.create(**fields)


def audit_list(*, target: models.Model | None = None, action: str | None = None):
    """Entries, newest first, optionally for one object and/or one action."""
    entries = AuditEntry.objects.all()
    if target is not None:
        entries = entries.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    if action is not None:
        entries = entries.filter(action=action)
    return entries
