"""Selectors of the admin dashboard: everything one page load shows, in a constant number of
queries per card. Live trade figures are computed on each load (the tracker's core on the
closed positions, cheap); the hit-rate test and drift come from the latest daily snapshot
(they need bars and the model's windows). Charts are drawn on each load too
(``monitoring.charts``: a few ms each); they used to be cached in Redis because matplotlib took
0.3 s each, but 52 cache round trips now cost more than drawing, and a cache outage cannot
slow the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from accounts.models import AccountStatus, TradingAccount
from mlops.models import MLModel, ModelStatus
from monitoring import selectors
from monitoring.models import (
    PerformanceSnapshot,
    RetrainingRequest,
    RetrainingRun,
    RetrainingStatus,
)
from trading.models import (
    KillSwitch,
    KillSwitchScope,
    Position,
    PositionStatus,
    ReconciliationRun,
    Signal,
)

SIGNAL_DAYS = 30
RUNS_SHOWN = 10  # latest champion/challenger runs on the page


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


class EpochMicros(Func):
    """A datetime column as microseconds since 1970-01-01 UTC (bigint), computed by the
    database: exact, and far cheaper to load than a timezone-aware datetime per row."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection,
                           template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint",
                           **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC): whole seconds + the fraction.
        # "%%%%" survives the template (-> %%) and the backend's placeholder rewrite (-> %).
        template = ("(CAST(strftime('%%%%s', %(expressions)s) AS INTEGER) * 1000000 "
                    "+ CAST(COALESCE(NULLIF(substr(%(expressions)s, 21, 6), ''), '0') "
                    "AS INTEGER))")
        return self.as_sql(compiler, connection, template=template, **extra)


@dataclass
class Book:
    """Every closed position before ``now``, loaded once per page in closing order (one
    query, one datetime parse per row); each card selects its rows with a numpy mask."""

    account: Any  # np.ndarray of account ids
    model: Any  # np.ndarray of model ids (-1: manual)
    trades: Any  # monitoring.tracker.Trades

    @classmethod
    def load(cls, now: datetime) -> Book:
        import numpy as np
        import pandas as pd

        from monitoring.tracker import Trades

        # Times come as integer microseconds and P/L as float8 from the database: parsing
        # 10,000 datetimes and 5,000 Decimals row by row in Python was a third of the page.
        # Both are exact (a bigint of microseconds; float8 of numeric(18,2) is the nearest
        # double, as float(Decimal) is).
        rows = (Position.objects.filter(status=PositionStatus.CLOSED, exit_time__lt=now)
                .order_by("exit_time", "id")
                .values_list("account_id", "model_id", EpochMicros("entry_time"),
                             EpochMicros("exit_time"), Cast("net_pnl", FloatField())))
        columns = list(zip(*rows, strict=True)) or [(), (), (), (), ()]
        account, model, entry, exit_, net = columns
        trades = Trades(pd.DatetimeIndex(pd.to_datetime(np.array(entry, dtype=np.int64),
                                                        unit="us", utc=True)),
                        pd.DatetimeIndex(pd.to_datetime(np.array(exit_, dtype=np.int64),
                                                        unit="us", utc=True)),
                        np.array(net, dtype=np.float64))
        return cls(np.array(account, dtype=np.int64),
                   np.array([-1 if m is None else m for m in model], dtype=np.int64), trades)

    def select(self, *, account_id: int | None = None, model_id: int | None = None) -> Any:
        import numpy as np

        mask = np.ones(len(self.account), dtype=bool)
        if account_id is not None:
            mask &= self.account == account_id
        if model_id is not None:
            mask &= self.model == model_id
        return self.trades.select(mask)

    def accounts_of(self, model_id: int) -> set[int]:
        return {int(a) for a in set(self.account[self.model == model_id].tolist())}


def _figures_and_charts(trades: Any, opening: float,
                        now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    import numpy as np
    import pandas as pd

    from monitoring import charts, tracker

    start = trades.entry.min() if len(trades) else pd.Timestamp(now)
    figures = tracker.json_safe(tracker.trade_figures(trades, opening=opening, start=start,
                                                      end=pd.Timestamp(now)))
    balance = opening + np.cumsum(trades.net)
    return figures, {"equity": charts.equity_svg(trades.exit, balance, opening),
                     "rolling": charts.rolling_svg(trades.net)}


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
    return charts.signals_svg(days, traded, held)


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


def _account_panels(accounts: QuerySet[TradingAccount]) -> tuple[
        list[TradingAccount], dict[int, PerformanceSnapshot], dict[int, ReconciliationRun]]:
    """The active accounts with their latest account-wide snapshot and last finished
    reconciliation run: three queries for any number of accounts (not two per card)."""
    snapshot = (PerformanceSnapshot.objects.filter(account=OuterRef("pk"), model__isnull=True)
                .order_by("-date").values("pk")[:1])
    run = (ReconciliationRun.objects.filter(account=OuterRef("pk"), finished_at__isnull=False)
           .order_by("-finished_at", "-pk").values("pk")[:1])
    rows = list(accounts.annotate(snapshot_pk=Subquery(snapshot), run_pk=Subquery(run)))
    snapshots = PerformanceSnapshot.objects.in_bulk(
        [a.snapshot_pk for a in rows if a.snapshot_pk])
    runs = ReconciliationRun.objects.in_bulk([a.run_pk for a in rows if a.run_pk])
    return (rows, {a.pk: snapshots[a.snapshot_pk] for a in rows if a.snapshot_pk},
            {a.pk: runs[a.run_pk] for a in rows if a.run_pk})


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
               positions: dict[Any, list[Position]], book: Book,
               balances: dict[int, Decimal]) -> Card:
    # The model's capital: the initial balances of the accounts that traded it.
    opening = float(sum((balances.get(a, Decimal("0")) for a in book.accounts_of(model.pk)),
                        Decimal("0")))
    figures, charts = _figures_and_charts(book.select(model_id=model.pk), opening, now)
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
                 positions: dict[Any, list[Position]], book: Book,
                 snapshot: PerformanceSnapshot | None = None,
                 reconciliation: ReconciliationRun | None = None) -> Card:
    figures, charts = _figures_and_charts(book.select(account_id=account.pk),
                                          float(account.initial_balance), now)
    mine = [s for s in switches
            if s.scope == KillSwitchScope.ACCOUNT and s.account_id == account.pk]
    return Card("account", account, f"Account #{account.pk} {account.name}", account.status,
                mine, figures, {}, snapshot, charts, positions.get(("account", account.pk), []),
                {"reconciliation": reconciliation})


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
    book = Book.load(now)
    balances = dict(TradingAccount.objects.values_list("pk", "initial_balance"))
    models = MLModel.objects.filter(status=ModelStatus.ACTIVE).select_related("instrument")
    accounts, snapshots, runs = _account_panels(
        TradingAccount.objects.filter(status=AccountStatus.ACTIVE).order_by("pk"))
    return {
        "now": now,
        "strip": global_strip(now, switches),
        "model_cards": [model_card(m, now, switches, positions, book, balances)
                        for m in models],
        "account_cards": [account_card(a, now, switches, positions, book, snapshots.get(a.pk),
                                       runs.get(a.pk)) for a in accounts],
        "candidates": list(MLModel.objects.filter(status=ModelStatus.CANDIDATE)
                           .select_related("instrument")[:20]),
        "pending_retraining": list(RetrainingRequest.objects.filter(
            status=RetrainingStatus.PENDING).select_related("model")),
        "retraining_runs": list(RetrainingRun.objects.select_related("champion", "challenger")
                                .order_by("-created_at", "-id")[:RUNS_SHOWN]),
    }


def warm_up() -> None:
    """Import what a process's first dashboard load would (pandas; numba through
    ``backtests.metrics``; the charts) and load the numba kernels from their on-disk cache
    with a three-trade call. A web worker runs it once at boot (``post_worker_init`` in
    deploy/gunicorn.conf.py): the first load of a fresh worker took 2.6 s, most of it these
    imports, instead of the 0.3-0.6 s of the others (docs/BENCHMARKS.md)."""
    import numpy as np
    import pandas as pd

    from monitoring import charts, tracker

    day = pd.Timestamp("2026-01-05", tz="UTC")
    trades = tracker.Trades(pd.DatetimeIndex([day] * 3), pd.DatetimeIndex([day] * 3),
                            np.array([1.0, -1.0, 2.0]))
    tracker.trade_figures(trades, opening=100.0, start=day, end=day + pd.Timedelta(days=1))
    charts.equity_svg(np.arange(3), np.array([101.0, 100.0, 102.0]), 100.0)
