"""``readiness/``: the stored readiness verdicts, read-only. Visible to every authenticated
user, like ``models/``: a verdict is evidence about a shared model, not account-private
(its paper account is one created for the run)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

from nusatrade.apibase import CreatedRangeFilterSet, CursorPage, IdFilter, StrictQueryMixin
from nusatrade.apibase import StrictOrderingFilter as OrderingFilter
from readiness.models import ReadinessReport, Verdict

CRITERION_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string"}, "label": {"type": "string"},
    "measured": {"nullable": True, "description": "number, boolean, \"inf\" or null"},
    "threshold": {"nullable": True, "description": "number or boolean"},
    "comparison": {"type": "string", "enum": [">", "<", ">=", "<=", "=="]},
    "low": {"type": "number", "nullable": True}, "high": {"type": "number", "nullable": True},
    "passed": {"type": "boolean"}, "reason": {"type": "string"}}}


class ReadinessFilter(CreatedRangeFilterSet):
    model = IdFilter(field_name="model_id", help_text="ML model id.")
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)
    symbol = django_filters.CharFilter(field_name="symbol", lookup_expr="iexact",
                                       max_length=32)
    timeframe = django_filters.CharFilter(field_name="timeframe", max_length=3)

    class Meta:
        model = ReadinessReport
        fields: list[str] = []


class ReadinessReportSerializer(serializers.ModelSerializer):
    model = serializers.IntegerField(source="model_id", read_only=True)
    backtest_run = serializers.IntegerField(source="backtest_run_id", read_only=True)
    agreement_run = serializers.IntegerField(source="agreement_run_id", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    criteria = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = ReadinessReport
        fields = ["id", "model", "symbol", "timeframe", "verdict", "reasons", "criteria",
                  "figures", "thresholds", "backtest_start", "backtest_end", "replay_start",
                  "replay_days", "model_fingerprint", "backtest_run", "agreement_run",
                  "account", "ran_by", "created_at", "duration_seconds"]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": CRITERION_SCHEMA})
    def get_criteria(self, report: ReadinessReport) -> list[dict[str, Any]]:
        return list(report.criteria)

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_reasons(self, report: ReadinessReport) -> list[str]:
        """Plain words, one per failed criterion (empty for GO)."""
        return list(report.reasons)


class ReadinessReportViewSet(StrictQueryMixin, mixins.ListModelMixin,
                             mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Readiness verdicts (GO / NO-GO) with every criterion and figure, newest first."""

    serializer_class = ReadinessReportSerializer
    queryset = ReadinessReport.objects.none()
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ReadinessFilter
    pagination_class = CursorPage
    ordering_fields = ("id", "created_at")
    ordering = ("-id",)

    def get_queryset(self) -> QuerySet[ReadinessReport]:
        return ReadinessReport.objects.all()
