"""``performance/``: the tracker's figures per account and (account, model) pair, rolling
windows, live versus backtest. Scoped like every trader read: a trader sees the snapshots of
their own accounts; model-wide snapshots (every account's trades of a model) are for admins,
as they would count other users' trades."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, serializers, viewsets

from monitoring.models import PerformanceSnapshot
from nusatrade.apibase import (
    ApiFilterSet,
    CursorPage,
    StrictQueryMixin,
    ValuesListMixin,
    ValuesRows,
)
from nusatrade.apibase import StrictOrderingFilter as OrderingFilter
from trading.api.filters import IdFilter
from trading.api.selectors import is_admin, own_account_ids

SCOPES = [("account", "One account"), ("pair", "One account and one model"),
          ("model", "One model, every account (admins)")]


class PerformanceFilter(ApiFilterSet):
    account = IdFilter(field_name="account_id", min_value=1, max_value=2**63 - 1)
    model = IdFilter(field_name="model_id", min_value=1, max_value=2**63 - 1)
    scope = django_filters.ChoiceFilter(choices=SCOPES, method="filter_scope")
    date = django_filters.DateFilter(field_name="date")
    date_after = django_filters.DateFilter(field_name="date", lookup_expr="gte",
                                           help_text="On or after this day (YYYY-MM-DD).")
    date_before = django_filters.DateFilter(field_name="date", lookup_expr="lt",
                                            help_text="Before this day (YYYY-MM-DD).")

    class Meta:
        model = PerformanceSnapshot
        fields: list[str] = []

    def filter_scope(self, rows: QuerySet, name: str, value: str) -> QuerySet:
        return {"account": rows.filter(account__isnull=False, model__isnull=True),
                "pair": rows.filter(account__isnull=False, model__isnull=False),
                "model": rows.filter(account__isnull=True)}[value]


class PerformanceSnapshotSerializer(serializers.ModelSerializer):
    net_pnl = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)
    figures = serializers.DictField(read_only=True, help_text=(
        "Window (all, 7d, 30d, 90d, last20, last50) -> trade figures."))
    signals = serializers.DictField(read_only=True)
    expected = serializers.DictField(read_only=True, help_text="The backtest's figures.")
    versus_backtest = serializers.DictField(read_only=True)
    drift = serializers.DictField(read_only=True)

    class Meta:
        model = PerformanceSnapshot
        fields = ["id", "date", "scope_key", "account", "model", "trades", "net_pnl",
                  "win_rate", "profit_factor", "figures", "signals", "expected",
                  "versus_backtest", "drift", "created_at"]
        read_only_fields = fields


class PerformanceViewSet(ValuesListMixin, StrictQueryMixin, mixins.ListModelMixin,
                         mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Daily performance snapshots of your accounts (and, for admins, of models overall)."""

    serializer_class = PerformanceSnapshotSerializer
    list_rows = ValuesRows(PerformanceSnapshotSerializer)
    queryset = PerformanceSnapshot.objects.none()
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = PerformanceFilter
    pagination_class = CursorPage
    ordering_fields = ("date", "id")
    ordering = ("-date", "-id")

    def get_queryset(self) -> QuerySet[PerformanceSnapshot]:
        rows: Any = PerformanceSnapshot.objects.all()
        user = self.request.user
        if is_admin(user):
            return rows
        # The ids read at authentication: an equality or IN on the indexed account column,
        # no join to the owner.
        return rows.filter(account_id__in=own_account_ids(user))
