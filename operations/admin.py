"""Backups in the admin: read-only history (they are made by ``backup`` / the beat task)."""

from __future__ import annotations

from django.contrib import admin

from operations.models import BackupRun


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "verified", "started_at", "finished_at", "size_mib",
                    "s3_key", "short_error")
    list_filter = ("status", "verified")
    search_fields = ("name", "s3_key", "error")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    @admin.display(description="MiB", ordering="total_bytes")
    def size_mib(self, run: BackupRun) -> str:
        return f"{run.total_bytes / 2**20:.1f}"

    @admin.display(description="error")
    def short_error(self, run: BackupRun) -> str:
        return run.error[:120]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
