"""Backtest API: list and read runs, start one (throttled), fetch its HTML report."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from backtests import selectors
from backtests.models import BacktestRun, RunStatus
from backtests.serializers import (
    BacktestRunCreateSerializer,
    BacktestRunDetailSerializer,
    BacktestRunListSerializer,
)
from nusatrade.apibase import (
    CreatedRangeFilterSet,
    CursorPage,
    IdFilter,
    StrictOrderingFilter,
    StrictQueryMixin,
)
from nusatrade.errors import DataError
from nusatrade.ratelimit import TradingThrottle

# The report is our own markup with inline SVG and CSS and no scripts: forbid everything else.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class ReportHTMLRenderer(BaseRenderer):
    """Lets a client ask for ``text/html`` only; errors still come out as text."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return str(data).encode(self.charset)


class BacktestRunFilter(CreatedRangeFilterSet):
    """The same kinds of filters as the other lists (docs/api.md, "Filters and ordering")."""

    status = django_filters.ChoiceFilter(choices=RunStatus.choices,
                                         help_text="Only runs with this status.")
    model = IdFilter(field_name="model_id", help_text="ML model id.")
    symbol = django_filters.CharFilter(field_name="model__instrument__symbol",
                                       lookup_expr="iexact", max_length=32,
                                       help_text="The model's symbol (case-insensitive).")

    class Meta:
        model = BacktestRun
        fields: list[str] = []


class BacktestRunViewSet(StrictQueryMixin, viewsets.GenericViewSet):
    """Your backtest runs (admins: everyone's): cursor pages, django-filter and ordering like
    every other list of the API; unknown query parameters are a 400."""

    serializer_class = BacktestRunListSerializer
    queryset = BacktestRun.objects.none()  # for the schema; reads go through selectors
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = BacktestRunFilter
    pagination_class = CursorPage
    ordering_fields = ("id", "created_at")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[BacktestRun]:
        return selectors.backtest_run_list(self.request.user)

    def get_throttles(self) -> list[Any]:
        if self.action == "create":
            return [TradingThrottle()]
        return super().get_throttles()

    def _run(self, pk: str, *, with_trades: bool = False) -> BacktestRun:
        try:
            return selectors.backtest_run_get(pk, self.request.user, with_trades=with_trades)
        except DataError as exc:
            raise exceptions.NotFound(str(exc)) from None

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(BacktestRunListSerializer(page, many=True).data)

    @extend_schema(responses=BacktestRunDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        run = self._run(pk, with_trades=True)
        return Response(BacktestRunDetailSerializer(run).data)

    @extend_schema(request=BacktestRunCreateSerializer,
                   responses={201: BacktestRunListSerializer})
    def create(self, request: Request) -> Response:
        from backtests.services import backtest_run_create  # pandas, numba: on use only

        serializer = BacktestRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = backtest_run_create(model=data["model"], start=data["start"], end=data["end"],
                                      params=serializer.to_params(), user=request.user)
        except DataError as exc:  # a rule of the service: report it on its field
            raise exceptions.ValidationError(
                {exc.column or "non_field_errors": [exc.reason]}) from None
        # Read it again: eager Celery (development) has already run it.
        run = selectors.backtest_run_get(run.pk, all_runs=True)
        return Response(BacktestRunListSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR,
                              409: OpenApiResponse(description="The run has no report yet.")})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ReportHTMLRenderer])
    def report(self, request: Request, pk: str) -> HttpResponse | Response:
        run = self._run(pk)
        report = selectors.backtest_report_get(run)
        if report is None:
            return Response({"detail": f"backtest #{run.pk} is {run.status}: no report yet."},
                            status=status.HTTP_409_CONFLICT)
        response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = REPORT_CSP
        response["Content-Disposition"] = f'inline; filename="backtest-{run.pk}.html"'
        return response
