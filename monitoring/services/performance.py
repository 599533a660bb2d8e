"""``performance_track``: the daily performance snapshot of every model and account.

Reads closed positions and model signals (``monitoring.selectors``), computes the figures in
the pure core (``monitoring.tracker``: the backtester's metric functions) and stores one
``PerformanceSnapshot`` per scope and day; a rerun for the same day replaces it (idempotent,
so a redelivered task is harmless).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from mlops.models import MLModel
from monitoring import selectors, tracker
from monitoring.models import PerformanceSnapshot

logger = logging.getLogger(__name__)
SIGNAL_WINDOW_DAYS = 30


def day_end(day: date) -> datetime:
    """The end of UTC day ``day`` (exclusive): what a snapshot of ``day`` is "as of"."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def scope_key(account_id: int | None, model_id: int | None) -> str:
    parts = ([f"account:{account_id}"] if account_id else []) + (
        [f"model:{model_id}"] if model_id else [])
    return "/".join(parts)


def backtest_expectation(model: MLModel) -> dict[str, Any]:
    """The figures live trading is held to: the model's held-out backtest run when there is
    one, else its training test window; the hit rate is the test window's gated accuracy."""
    test = (model.metrics or {}).get("test") or {}
    hit_rate = test.get("gated_accuracy")
    run = selectors.held_out_backtest(model)
    if run is not None:
        return {"source": f"backtest #{run.pk} {run.start}..{run.end}", "run_id": run.pk,
                "win_rate": run.win_rate, "profit_factor": run.profit_factor,
                "sharpe": run.sharpe, "max_drawdown_pct": run.max_drawdown_pct,
                "expectancy": (run.metrics or {}).get("expectancy"),
                "trades_per_month": (run.metrics or {}).get("trades_per_month"),
                "hit_rate": hit_rate}
    trades = test.get("trades") or {}
    return {"source": "model test window (no backtest run)", "run_id": None,
            "win_rate": trades.get("win_rate"), "hit_rate": hit_rate}


def _initial_balance(account_id: int | None, model_id: int | None) -> float:
    """An account's initial balance; for a model across accounts, the sum over the accounts
    that traded it (its capital at stake)."""
    ids = [account_id] if account_id else {a for a, m in selectors.tracked_scopes_pairs(model_id)}
    total = sum((b for b in TradingAccount.objects.filter(pk__in=ids)
                 .values_list("initial_balance", flat=True)), Decimal("0"))
    return float(total)


def _confidence(decision: str, probabilities: dict[str, Any]) -> float:
    """Probability of the chosen decision (NaN when the signal carries none)."""
    value = (probabilities or {}).get(decision)
    return float(value) if isinstance(value, int | float) else np.nan


class _Bars:
    """Bars per (symbol, timeframe), loaded once per run."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}

    def get(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> pd.DataFrame:
        key = (symbol, timeframe)
        if key not in self._cache:
            from marketdata.selectors import load_bars

            try:
                self._cache[key] = load_bars(symbol, timeframe, start, end)
            except Exception as exc:  # an unknown series: the hit rate stays unjudged
                logger.warning("track_performance: no bars for %s %s: %s", symbol, timeframe,
                               exc)
                self._cache[key] = pd.DataFrame(columns=["open", "close"],
                                                index=pd.DatetimeIndex([], tz="UTC"))
        return self._cache[key]


def signal_stats(rows: list[tuple[Any, ...]], end: datetime, bars: _Bars) -> dict[str, Any]:
    """Signal statistics over all time and the last ``SIGNAL_WINDOW_DAYS`` days."""
    if not rows:
        return {w: tracker.signal_figures(np.array([], dtype=object), np.array([]),
                                          np.array([])) for w in ("all", "30d")}
    times = pd.DatetimeIndex([r[0] for r in rows])
    times = times.tz_convert("UTC") if times.tz else times.tz_localize("UTC")
    decisions = np.array([r[1] for r in rows], dtype=object)
    confidence = np.array([_confidence(r[1], r[2]) for r in rows])
    realised = np.full(len(rows), np.nan)
    series = {(r[3], r[4]) for r in rows}
    for symbol, timeframe in series:
        mask = np.array([(r[3], r[4]) == (symbol, timeframe) for r in rows])
        if not timeframe:
            continue
        frame = bars.get(symbol, timeframe, times[mask].min().to_pydatetime(), end)
        frame = frame[frame.index < pd.Timestamp(end)]
        realised[mask] = tracker.next_bar_direction(
            times[mask], pd.DatetimeIndex(frame.index), frame["open"].to_numpy(np.float64),
            frame["close"].to_numpy(np.float64))
    recent = np.asarray(times >= pd.Timestamp(end) - pd.Timedelta(days=SIGNAL_WINDOW_DAYS))
    return {"all": tracker.signal_figures(decisions, confidence, realised),
            "30d": tracker.signal_figures(decisions[recent], confidence[recent],
                                          realised[recent])}


def scope_track(day: date, account_id: int | None, model_id: int | None, *,
                bars: _Bars | None = None, drift: bool = True) -> PerformanceSnapshot:
    """Compute and store the snapshot of one scope for ``day``."""
    end = day_end(day)
    bars = bars or _Bars()
    rows = selectors.trade_rows(end=end, account_id=account_id, model_id=model_id)
    trades = tracker.Trades.from_rows([(a, b, float(n)) for a, b, n in rows])
    figures = tracker.windows(trades, initial=_initial_balance(account_id, model_id),
                              end=pd.Timestamp(end))
    signals = signal_stats(selectors.signal_rows(end=end, account_id=account_id,
                                                 model_id=model_id), end, bars)
    model = MLModel.objects.select_related("instrument").get(pk=model_id) if model_id else None
    expected = backtest_expectation(model) if model else {}
    versus = (tracker.versus_backtest(figures["all"], signals["all"], expected,
                                      alpha=_alpha()) if model else {})
    drift_result = _drift(model, end) if model and drift and not account_id else {}
    headline = figures["all"]
    values = {
        "account_id": account_id, "model_id": model_id, "trades": headline["trades"],
        "net_pnl": sum((n for _, _, n in rows), Decimal("0")),
        "win_rate": headline["win_rate"], "profit_factor": headline["profit_factor"],
        "figures": figures, "signals": signals, "expected": expected,
        "versus_backtest": versus, "drift": drift_result,
    }
    values = {k: (tracker.json_safe(v) if not isinstance(v, Decimal) else v)
              for k, v in values.items()}
    with transaction.atomic():
        snapshot, _ = PerformanceSnapshot.objects.update_or_create(
            date=day, scope_key=scope_key(account_id, model_id), defaults=values)
    return snapshot


def _alpha() -> float:
    return float(getattr(settings, "MONITORING_CONSISTENCY_ALPHA", tracker.DEFAULT_ALPHA))


def _drift(model: MLModel, end: datetime) -> dict[str, Any]:
    from monitoring.services.drift import drift_compute

    try:
        return drift_compute(model, end)
    except Exception as exc:  # drift is advisory: a missing artifact must not lose the day
        logger.warning("track_performance: drift of model #%s failed: %s", model.pk, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def performance_track(day: date | None = None, *, drift: bool = True,
                      ) -> list[PerformanceSnapshot]:
    """Snapshot every tracked scope (``monitoring.selectors.tracked_scopes``) for ``day``
    (default: yesterday, the last complete UTC day)."""
    from monitoring.services.triggers import retraining_triggers_check

    day = day or (timezone.now().date() - timedelta(days=1))
    bars = _Bars()
    snapshots = [scope_track(day, account_id, model_id, bars=bars, drift=drift)
                 for account_id, model_id in selectors.tracked_scopes(day_end(day))]
    for snapshot in snapshots:  # triggers ask (RetrainingRequest + alert), never swap
        retraining_triggers_check(snapshot, now=day_end(day))
    return snapshots
