"""Admin: import runs with their quality report, and the rows they quarantined (read-only).

Registered on the default ``admin.site``; the project wraps it in the OTP admin site.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from marketdata.models import ImportRun, QuarantinedRow
from marketdata.services import import_run_report

INLINE_ROWS = 50


class ReadOnlyAdmin(admin.ModelAdmin):
    """Imports are records of what happened: nobody edits them by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class QuarantinedRowInline(admin.TabularInline):
    model = QuarantinedRow
    fields = ("line", "reason", "detail", "raw")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"Quarantined rows (first {INLINE_ROWS}; see the full list link)"

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request).order_by("line", "id")
        # The formset filters by run after this and cannot take a sliced queryset, so pick
        # the first rows of the run being shown by id (a run can quarantine 100k rows).
        match = request.resolver_match
        run_id = match.kwargs.get("object_id") if match else None
        if run_id is None:
            return queryset.none()
        first = queryset.filter(import_run_id=run_id).values_list("id", flat=True)
        return queryset.filter(id__in=list(first[:INLINE_ROWS]))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "name", "symbol", "timeframe", "format", "status",
                    "rows_read", "accepted", "inserted", "rejected", "duplicates", "gap_count")
    list_filter = ("status", "timeframe", "format", "instrument")
    list_select_related = ("instrument",)
    search_fields = ("name", "path", "instrument__symbol")
    date_hierarchy = "created_at"
    fields = ("report", "quarantined_rows_link", "path", "tz_assumption", "error",
              "rejected_by_reason", "gaps", "notes", "created_at", "duration")
    readonly_fields = fields
    inlines = (QuarantinedRowInline,)

    @admin.display(description="Symbol", ordering="instrument__symbol")
    def symbol(self, run: ImportRun) -> str:
        return run.instrument.symbol

    @admin.display(description="Report")
    def report(self, run: ImportRun) -> str:
        return format_html('<pre style="white-space: pre">{}</pre>', import_run_report(run))

    @admin.display(description="Quarantined rows")
    def quarantined_rows_link(self, run: ImportRun) -> str:
        url = reverse("admin:marketdata_quarantinedrow_changelist")
        return format_html('<a href="{}?import_run__id__exact={}">all {} quarantined rows</a>',
                           url, run.pk, run.rejected)


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(ReadOnlyAdmin):
    list_display = ("import_run", "line", "reason", "detail", "raw")
    list_filter = ("reason",)
    list_select_related = ("import_run__instrument",)
    search_fields = ("raw", "detail")
    raw_id_fields = ("import_run",)
    ordering = ("import_run", "line", "id")
