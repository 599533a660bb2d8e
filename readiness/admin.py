"""Readiness verdicts in the admin: read-only (written by ``readiness_run`` only), the verdict
coloured, the criteria as a table, and the self-contained HTML report served by the admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from nusatrade.admin_site import ReadOnlyAdmin
from readiness.models import ReadinessReport

COLOURS = {"GO": "#070", "NO-GO": "#b00"}


@admin.register(ReadinessReport)
class ReadinessReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "model", "series", "verdict_coloured", "failed", "replay",
                    "ran_by", "created_at", "report_link")
    list_filter = ("verdict", "symbol", "timeframe")
    list_select_related = ("model",)
    search_fields = ("model__name", "ran_by")
    ordering = ("-id",)
    fields = ("model", "series", "verdict_coloured", "reasons_list", "criteria_table",
              "backtest_start", "backtest_end", "backtest_run", "replay_start", "replay_days",
              "account", "agreement_run", "model_fingerprint", "created_by", "ran_by",
              "created_at", "duration_seconds", "report_link", "figures", "thresholds")
    readonly_fields = fields

    @admin.display(description="series")
    def series(self, obj: ReadinessReport) -> str:
        return f"{obj.symbol} {obj.timeframe}"

    @admin.display(description="verdict", ordering="verdict")
    def verdict_coloured(self, obj: ReadinessReport) -> str:
        return format_html('<strong style="color:{}">{}</strong>',
                           COLOURS.get(obj.verdict, "#222"), obj.verdict)

    @admin.display(description="failed criteria")
    def failed(self, obj: ReadinessReport) -> int:
        return len(obj.reasons)

    @admin.display(description="replay")
    def replay(self, obj: ReadinessReport) -> str:
        return f"{obj.replay_days} day(s) from {obj.replay_start}"

    @admin.display(description="why")
    def reasons_list(self, obj: ReadinessReport) -> str:
        if not obj.reasons:
            return "every criterion passed"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>",
                                                           ((r,) for r in obj.reasons)))

    @admin.display(description="criteria")
    def criteria_table(self, obj: ReadinessReport) -> str:
        from readiness.report import fmt_value, interval_text, threshold_text

        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "<td style='color:{}'>{}</td><td>{}</td></tr>", (
            (c["label"], fmt_value(c["measured"], c["name"]), threshold_text(c),
             interval_text(c), COLOURS["GO" if c["passed"] else "NO-GO"],
             "PASS" if c["passed"] else "FAIL", c["reason"]) for c in obj.criteria))
        return format_html("<table><tr><th>criterion</th><th>measured</th><th>threshold</th>"
                           "<th>95% interval</th><th>result</th><th>why</th></tr>{}</table>",
                           rows)

    @admin.display(description="HTML report")
    def report_link(self, obj: ReadinessReport) -> str:
        if not obj.report_path:
            return "-"
        return format_html('<a href="{}">report</a>',
                           reverse("admin:readiness_readinessreport_report", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [path("<int:report_id>/report/", view(self.report_view),
                     name="readiness_readinessreport_report"), *super().get_urls()]

    def report_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        """The report file this row recorded (written by the service; only an .html path
        stored on the row is ever read, never a path from the request)."""
        report = get_object_or_404(ReadinessReport, pk=report_id)
        if not self.has_view_permission(request, report):
            raise Http404
        file = Path(report.report_path)
        if file.suffix != ".html" or not file.is_file():
            raise Http404(f"the report file of readiness #{report.pk} is not on this server")
        response = HttpResponse(file.read_text(encoding="utf-8"),
                                content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; "\
                                              "img-src data:"
        return response
