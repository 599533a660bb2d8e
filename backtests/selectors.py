"""Reads of backtest runs, their trades and reports (constant query counts for lists)."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Prefetch, QuerySet

from accounts.selectors import user_is_admin
from backtests.models import BacktestReport, BacktestRun, BacktestTrade
from mlops.models import MLModel, ModelStatus
from nusatrade.errors import DataError

# Columns a list shows: never the report, the trades or the long JSON of a run.
LIST_DEFERRED = ("params", "equity_curve", "sweep_results", "metrics")


def sees_all_runs(user: Any) -> bool:
    """Admins (superusers or the ``admin`` role) see every run; others only their own."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user_is_admin(user)


def backtest_run_list(user: Any = None, *, all_runs: bool | None = None,
                      status: str | None = None) -> QuerySet[BacktestRun]:
    """Runs visible to ``user`` (own runs; every run for admins), newest first."""
    runs = (BacktestRun.objects.select_related("model__instrument", "created_by")
            .defer(*LIST_DEFERRED))
    if all_runs is None:
        all_runs = sees_all_runs(user)
    if not all_runs:
        runs = runs.filter(created_by=user) if getattr(user, "is_authenticated", False) \
            else runs.none()
    if status:
        runs = runs.filter(status=status)
    return runs


def backtest_run_get(run_id: int | str, user: Any = None, *, all_runs: bool | None = None,
                     with_trades: bool = False) -> BacktestRun:
    """One run visible to ``user``; DataError naming the id otherwise (no existence leak).
    ``with_trades`` prefetches its trades in order (one more query)."""
    runs = BacktestRun.objects.select_related("model__instrument", "created_by")
    if with_trades:
        runs = runs.prefetch_related(
            Prefetch("trades", queryset=BacktestTrade.objects.order_by("number")))
    if all_runs is None:
        all_runs = sees_all_runs(user)
    if not all_runs:
        runs = runs.filter(created_by=user) if getattr(user, "is_authenticated", False) \
            else runs.none()
    try:
        return runs.get(pk=run_id)
    except (BacktestRun.DoesNotExist, ValueError, TypeError):
        raise DataError(f"no backtest run with id {run_id}") from None


def backtest_trade_list(run: BacktestRun) -> QuerySet[BacktestTrade]:
    return BacktestTrade.objects.filter(run=run).order_by("number")


def backtest_report_get(run: BacktestRun) -> BacktestReport | None:
    """The rendered report of a finished run (None before it succeeded)."""
    return BacktestReport.objects.filter(run=run).first()


def backtest_runs_compare(first: BacktestRun, second: BacktestRun) -> list[dict[str, Any]]:
    """Metric rows of two runs side by side: label, both formatted values, the difference."""
    from backtests.report import METRIC_ROWS  # the report module loads matplotlib: on use only

    rows = []
    for key, label, pattern in METRIC_ROWS:
        a, b = first.metrics.get(key), second.metrics.get(key)
        if a is None and b is None:
            continue
        difference = b - a if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append({"key": key, "label": label, "first": format_metric(a, pattern),
                     "second": format_metric(b, pattern),
                     "difference": format_metric(difference, pattern, signed=True)})
    return rows


def backtest_metric_rows(run: BacktestRun) -> list[tuple[str, str]]:
    """(label, formatted value) of each report metric the run has."""
    from backtests.report import METRIC_ROWS  # the report module loads matplotlib: on use only

    return [(label, format_metric(run.metrics.get(key), pattern))
            for key, label, pattern in METRIC_ROWS if key in run.metrics]


def format_metric(value: Any, pattern: str, *, signed: bool = False) -> str:
    """A metric as the report prints it ("n/a" when undefined)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = pattern.format(value)
    return f"+{text}" if signed and value > 0 else text


def backtest_demo_model(symbol: str, timeframe: str) -> MLModel | None:
    """The model ``backtest_demo`` backtests (docs/backtesting-runs.md, "Demo"):

    1. the active model of the series (``ml_demo`` activates the best on pooled walk-forward
       out-of-sample net expectancy after a clean look-ahead check, when its out-of-sample
       edge is positive at the configured confidence), else
    2. the model with the best walk-forward pooled net expectancy (its out-of-sample folds),
       newest first on ties; models without walk-forward results come last.
    """
    models = MLModel.objects.select_related("instrument").filter(
        instrument__symbol=symbol.upper(), timeframe=timeframe.upper()).exclude(
        status=ModelStatus.RETIRED)
    active = models.filter(status=ModelStatus.ACTIVE).first()
    if active is not None:
        return active
    candidates = list(models.order_by("-created_at", "-id"))
    if not candidates:
        return None
    return max(candidates, key=_walk_forward_expectancy)


def _walk_forward_expectancy(model: MLModel) -> float:
    summary = (model.metrics or {}).get("walk_forward", {}).get("summary", {})
    value = summary.get("pooled_expectancy")
    return float("-inf") if value is None else float(value)


__all__ = ["backtest_demo_model", "backtest_metric_rows", "backtest_report_get", "backtest_run_get",
           "backtest_run_list", "backtest_runs_compare", "backtest_trade_list",
           "format_metric", "sees_all_runs"]
