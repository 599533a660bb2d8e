"""Selectors of the admin dashboard: everything one page load shows, in a constant number of
queries per card. Live trade figures are computed on each load (the tracker's core on the
closed positions, cheap); the hit-rate test and drift come from the latest daily snapshot
(they need bars and the model's windows). Charts are cached by the data they draw."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import FieldError
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import AccountStatus, TradingAccount
from mlops.models import MLModel, ModelStatus
from monitoring import selectors
from monitoring.models import RetrainingRequest, RetrainingStatus
from trading.models import KillSwitch, KillSwitchScope, Position, PositionStatus, Signal

logger = logging.getLogger(__name__)
CHART_TTL = 24 * 3600
SIGNAL_DAYS = 30


@dataclass
class Card:
    kind: str  # "model" or "account"
    obj: Any
    title: str
    status: str
    switches: list[KillSwitch]
    figures: dict[str, Any]
    versus: dict[str, Any]
    snapshot: Any
    charts: dict[str, str]
    open_positions: list[Position]
    extra: dict[str, Any] = field(default_factory=dict)


def _cached_chart(key_parts: tuple[Any, ...], draw: Any) -> str:
    key = "dash-chart:" + hashlib.sha256(repr(key_parts).encode()).hexdigest()[:32]
    try:
        svg = cache.get(key)
    except Exception:  # a cache outage costs drawing time, never the page
        svg = None
    if svg is None:
        svg = draw()
        try:
            cache.set(key, svg, CHART_TTL)
        except Exception:
            logger.warning("dashboard: chart cache unavailable")
    return svg


def _trade_series(rows: list[tuple[Any, Any, Decimal]]) -> Any:
    from monitoring.tracker import Trades

    return Trades.from_rows([(a, b, float(n)) for a, b, n in rows])


def _figures_and_charts(scope: dict[str, Any], opening: float, now: datetime,
                        key: str) -> tuple[dict[str, Any], dict[str, str], Any]:
    import numpy as np
    import pandas as pd

    from monitoring import charts, tracker

    rows = selectors.trade_rows(end=now, **scope)
    trades = _trade_series(rows)
    start = trades.entry.min() if len(trades) else pd.Timestamp(now)
    figures = tracker.json_safe(tracker.trade_figures(trades, opening=opening, start=start,
                                                      end=pd.Timestamp(now)))
    stamp = (key, len(rows), str(rows[-1][1]) if rows else "", float(trades.net.sum()))
    balance = opening + np.cumsum(trades.net)
    chart = {
        "equity": _cached_chart(("equity", *stamp),
                                lambda: charts.equity_svg(trades.exit, balance, opening)),
        "rolling": _cached_chart(("rolling", *stamp), lambda: charts.rolling_svg(trades.net)),
    }
    return figures, chart, trades


def _signals_chart(model_id: int, now: datetime) -> str:
    import numpy as np

    from monitoring import charts

    since = now - timedelta(days=SIGNAL_DAYS)
    per_day = list(Signal.objects.filter(model_id=model_id, bar_time__gte=since)
                   .annotate(day=TruncDate("bar_time")).values("day")
                   .annotate(total=Count("id"), held=Count("id", filter=Q(decision="HOLD")))
                   .order_by("day").values_list("day", "total", "held"))
    days = [str(d) for d, _, _ in per_day]
    traded = np.array([t - h for _, t, h in per_day], dtype=float)
    held = np.array([h for _, _, h in per_day], dtype=float)
    return _cached_chart(("signals", model_id, tuple(per_day)),
                         lambda: charts.signals_svg(days, traded, held))


def _versus(model: MLModel, figures: dict[str, Any], snapshot: Any) -> dict[str, Any]:
    from monitoring import tracker
    from monitoring.services.performance import backtest_expectation

    expected = backtest_expectation(model)
    signals = {"hits": 0, "judged": 0}
    if snapshot is not None:
        stats = (snapshot.signals or {}).get("all") or {}
        signals = {"hits": stats.get("hits", 0), "judged": stats.get("judged", 0)}
    figures = {**figures, "wins": figures.get("wins") or 0, "trades": figures.get("trades")}
    return tracker.json_safe(tracker.versus_backtest(figures, signals, expected))


def last_reconciliation(account_id: int) -> Any:
    """The account's last ``trading.ReconciliationRun`` (built in parallel by another
    engineer), or None when the model or a run does not exist yet."""
    try:
        run_model = apps.get_model("trading", "ReconciliationRun")
    except LookupError:
        return None
    try:
        return run_model.objects.filter(account_id=account_id).order_by("-pk").first()
    except FieldError:
        return run_model.objects.order_by("-pk").first()


def _open_positions() -> dict[tuple[str, int | None], list[Position]]:
    by: dict[tuple[str, int | None], list[Position]] = {}
    for p in Position.objects.filter(status=PositionStatus.OPEN).order_by("entry_time"):
        by.setdefault(("account", p.account_id), []).append(p)
        by.setdefault(("model", p.model_id), []).append(p)
    return by


def _switches() -> list[KillSwitch]:
    return list(KillSwitch.objects.filter(engaged=True).select_related("account", "model")
                .order_by("-engaged_at"))


def model_card(model: MLModel, now: datetime, switches: list[KillSwitch],
               positions: dict[Any, list[Position]]) -> Card:
    scope_accounts = {a for a, _ in selectors.tracked_scopes_pairs(model.pk)}
    opening = float(sum(TradingAccount.objects.filter(pk__in=scope_accounts)
                        .values_list("initial_balance", flat=True), Decimal("0")))
    figures, charts, _ = _figures_and_charts({"model_id": model.pk}, opening, now,
                                             f"model:{model.pk}")
    charts["signals"] = _signals_chart(model.pk, now)
    snapshot = selectors.snapshots_latest(model_id=model.pk)
    mine = [s for s in switches if s.scope == KillSwitchScope.MODEL and s.model_id == model.pk]
    pending = list(RetrainingRequest.objects.filter(model=model,
                                                    status=RetrainingStatus.PENDING))
    return Card("model", model, f"Model #{model.pk} {model.name} v{model.version} "
                f"{model.instrument.symbol} {model.timeframe}", model.status, mine, figures,
                _versus(model, figures, snapshot), snapshot, charts,
                positions.get(("model", model.pk), []), {"retraining": pending})


def account_card(account: TradingAccount, now: datetime, switches: list[KillSwitch],
                 positions: dict[Any, list[Position]]) -> Card:
    figures, charts, _ = _figures_and_charts({"account_id": account.pk},
                                             float(account.initial_balance), now,
                                             f"account:{account.pk}")
    mine = [s for s in switches
            if s.scope == KillSwitchScope.ACCOUNT and s.account_id == account.pk]
    return Card("account", account, f"Account #{account.pk} {account.name}", account.status,
                mine, figures, {}, selectors.snapshots_latest(account_id=account.pk), charts,
                positions.get(("account", account.pk), []),
                {"reconciliation": last_reconciliation(account.pk)})


def global_strip(now: datetime, switches: list[KillSwitch]) -> dict[str, Any]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    exposure = list(Position.objects.filter(status=PositionStatus.OPEN).values("symbol", "side")
                    .annotate(volume=Sum("volume"), count=Count("id")).order_by("symbol"))
    today = Position.objects.filter(status=PositionStatus.CLOSED, exit_time__gte=start,
                                    exit_time__lte=now).aggregate(total=Sum("net_pnl"))
    return {"exposure": exposure,
            "open_positions": sum(e["count"] for e in exposure),
            "today_pnl": today["total"] or Decimal("0.00"),
            "engaged": switches,
            "global_engaged": [s for s in switches if s.scope == KillSwitchScope.GLOBAL]}


def dashboard_data(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    switches = _switches()
    positions = _open_positions()
    models = MLModel.objects.filter(status=ModelStatus.ACTIVE).select_related("instrument")
    accounts = TradingAccount.objects.filter(status=AccountStatus.ACTIVE).order_by("pk")
    return {
        "now": now,
        "strip": global_strip(now, switches),
        "model_cards": [model_card(m, now, switches, positions) for m in models],
        "account_cards": [account_card(a, now, switches, positions) for a in accounts],
        "candidates": list(MLModel.objects.filter(status=ModelStatus.CANDIDATE)
                           .select_related("instrument")[:20]),
        "pending_retraining": list(RetrainingRequest.objects.filter(
            status=RetrainingStatus.PENDING).select_related("model")),
    }
