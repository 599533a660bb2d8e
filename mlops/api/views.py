"""``models/``: the registry, read-only (every authenticated user: models are shared)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

from mlops.models import MLModel, ModelStatus
from nusatrade.apibase import CreatedRangeFilterSet, CursorPage, StrictQueryMixin
from nusatrade.apibase import StrictOrderingFilter as OrderingFilter


class MLModelFilter(CreatedRangeFilterSet):
    status = django_filters.ChoiceFilter(choices=ModelStatus.choices)
    symbol = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact",
                                       max_length=32)
    timeframe = django_filters.CharFilter(field_name="timeframe", max_length=3)

    class Meta:
        model = MLModel
        fields: list[str] = []


class MLModelSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    lookahead_clean = serializers.SerializerMethodField()
    training_window = serializers.SerializerMethodField()

    class Meta:
        model = MLModel
        fields = ["id", "name", "version", "algorithm", "symbol", "timeframe", "status",
                  "threshold", "feature_set_id", "label_spec", "metrics", "lookahead_clean",
                  "training_window", "n_bars", "synthetic", "created_at", "activated_at",
                  "retired_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_lookahead_clean(self, model: MLModel) -> bool | None:
        """The look-ahead check's verdict (null: never checked)."""
        report = (model.metrics or {}).get("lookahead")
        return bool(report.get("clean")) if isinstance(report, dict) else None

    @extend_schema_field({"type": "object", "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"}}})
    def get_training_window(self, model: MLModel) -> dict[str, Any]:
        return {"start": model.data_start.isoformat().replace("+00:00", "Z"),
                "end": model.data_end.isoformat().replace("+00:00", "Z")}


class MLModelViewSet(StrictQueryMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """Active, candidate and retired models: metrics, threshold, look-ahead verdict and
    training window."""

    serializer_class = MLModelSerializer
    queryset = MLModel.objects.none()
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = MLModelFilter
    pagination_class = CursorPage
    ordering_fields = ("id", "created_at")
    ordering = ("-id",)

    def get_queryset(self) -> QuerySet[MLModel]:
        return MLModel.objects.select_related("instrument")

