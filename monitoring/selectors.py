"""Reads of the monitoring app: the rows the tracker and the dashboard work from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from backtests.models import BacktestRun, RunStatus
from mlops.models import MLModel, ModelStatus
from monitoring.models import PerformanceSnapshot
from trading.models import Position, PositionStatus, Signal


def closed_positions(*, end: datetime, account_id: int | None = None,
                     model_id: int | None = None) -> QuerySet[Position]:
    """Positions closed before ``end`` of one account and/or one model, in closing order."""
    rows = Position.objects.filter(status=PositionStatus.CLOSED, exit_time__lt=end)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    if model_id is not None:
        rows = rows.filter(model_id=model_id)
    return rows.order_by("exit_time", "id")


def trade_rows(**scope: Any) -> list[tuple[datetime, datetime, Any]]:
    """(entry time, exit time, net P/L as Decimal) of :func:`closed_positions`."""
    return list(closed_positions(**scope).values_list("entry_time", "exit_time", "net_pnl"))


def signal_rows(*, end: datetime, account_id: int | None = None,
                model_id: int | None = None) -> list[tuple[Any, ...]]:
    """(bar time, decision, probabilities, symbol, timeframe) of the model signals before
    ``end``, oldest first (manual signals have no model and are not a model's record)."""
    rows = Signal.objects.filter(bar_time__lt=end, model__isnull=False)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    if model_id is not None:
        rows = rows.filter(model_id=model_id)
    return list(rows.order_by("bar_time", "id").values_list(
        "bar_time", "decision", "probabilities", "symbol", "timeframe"))


def tracked_scopes(end: datetime) -> list[tuple[int | None, int | None]]:
    """(account id, model id) scopes to snapshot: every pair with a closed position or a
    model signal, every account and every model among them, and every active model."""
    pairs = set(Position.objects.filter(status=PositionStatus.CLOSED, exit_time__lt=end)
                .values_list("account_id", "model_id").distinct())
    pairs |= set(Signal.objects.filter(bar_time__lt=end, model__isnull=False)
                 .values_list("account_id", "model_id").distinct())
    scopes: set[tuple[int | None, int | None]] = {(a, m) for a, m in pairs if m is not None}
    scopes |= {(a, None) for a, _ in pairs}
    scopes |= {(None, m) for _, m in pairs if m is not None}
    scopes |= {(None, m) for m in MLModel.objects.filter(status=ModelStatus.ACTIVE)
               .values_list("id", flat=True)}
    return sorted(scopes, key=lambda s: (s[0] or 0, s[1] or 0))


def tracked_scopes_pairs(model_id: int | None) -> set[tuple[int, int | None]]:
    """(account id, model id) pairs in which ``model_id`` traded or signalled."""
    pairs = set(Position.objects.filter(model_id=model_id)
                .values_list("account_id", "model_id").distinct())
    return pairs | set(Signal.objects.filter(model_id=model_id)
                       .values_list("account_id", "model_id").distinct())


def held_out_backtest(model: MLModel) -> BacktestRun | None:
    """The model's latest succeeded backtest, preferring one that starts on or after its
    held-out test window (a backtest over its training bars would flatter it)."""
    runs = BacktestRun.objects.filter(model=model, status=RunStatus.SUCCEEDED).order_by(
        "-finished_at", "-id")
    test_start = (model.metrics.get("ranges") or {}).get("test", {}).get("start")
    if test_start:
        held_out = runs.filter(start__gte=test_start[:10]).first()
        if held_out is not None:
            return held_out
    return runs.first()


def snapshots_latest(*, model_id: int | None = None, account_id: int | None = None,
                     ) -> PerformanceSnapshot | None:
    rows = PerformanceSnapshot.objects.filter(Q(model_id=model_id) if model_id else
                                              Q(model__isnull=True))
    rows = rows.filter(Q(account_id=account_id) if account_id else Q(account__isnull=True))
    return rows.order_by("-date").first()
