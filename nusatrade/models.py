"""The core app's one table: what ``send_test_alert`` delivered (the launch checklist asks for
a test alert that really reached someone, recently)."""

from __future__ import annotations

from django.db import models


class AlertTestRecord(models.Model):
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, help_text="sent, partial, failed, not_configured")
    channels = models.JSONField(default=list, help_text="Per channel: status, attempts, detail.")
    host = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"test alert {self.status} at {self.sent_at:%Y-%m-%d %H:%M}"
