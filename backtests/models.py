"""Backtest runs: what was asked, what happened, and what it produced.

Writes go through ``backtests.services`` (``backtest_run_create``, ``backtest_run_execute``),
reads through ``backtests.selectors``. A run is created ``queued``, claimed ``running`` by a
conditional update (so a redelivered task never runs it twice), and ends ``succeeded`` or
``failed`` with the error text.

Money is ``Decimal`` in the database: the engine computes in float64 (money already rounded
to cents per trade) and the service rounds each amount to cents when it stores it. Trades are
rows of their own (``BacktestTrade``), not JSON: Decimal prices and P/L, paginated in the admin
and the API, and the sum of ``net_pnl`` can be checked in SQL against the run's net profit.
The rendered report (HTML and the three SVG charts) sits in ``BacktestReport``, one-to-one, so
list queries never read it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MONEY = {"max_digits": 18, "decimal_places": 2}
PRICE = {"max_digits": 20, "decimal_places": 8}
PIPS = {"max_digits": 10, "decimal_places": 2}


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class TradeSide(models.TextChoices):
    BUY = "BUY", "BUY"
    SELL = "SELL", "SELL"


class BacktestRun(models.Model):
    """One backtest of a registered model over a period of stored bars.

    The period is whole UTC days, ``start`` to ``end`` inclusive; it must lie after the
    model's training window (``MLModel.data_end``). Spread and slippage are in pips of the
    model's instrument (XAUUSD: 1 pip = 0.1); ``params`` holds the resolved engine settings
    (price units, contract, risk rules) for the report and for reproducing the run.
    """

    model = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT,
                              related_name="backtest_runs")
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, null=True, blank=True,
        related_name="backtest_runs",
        help_text="Backtested with this account's strategy settings, risk policy and paper "
                  "costs (backtest --account); empty: the run's own parameters.")
    start = models.DateField(help_text="First day of the period (UTC, inclusive).")
    end = models.DateField(help_text="Last day of the period (UTC, inclusive).")
    spread_pips = models.DecimalField(**PIPS, validators=[MinValueValidator(Decimal("0"))])
    slippage_pips = models.DecimalField(**PIPS, validators=[MinValueValidator(Decimal("0"))],
                                        help_text="Pips against us on every fill.")
    lots = models.DecimalField(max_digits=12, decimal_places=4,
                               validators=[MinValueValidator(Decimal("0.0001"))])
    sl_atr = models.FloatField(null=True, blank=True, help_text="Stop-loss in ATR multiples.")
    tp_atr = models.FloatField(null=True, blank=True, help_text="Take-profit in ATR multiples.")
    max_bars_held = models.PositiveIntegerField(null=True, blank=True)
    use_risk = models.BooleanField(default=True, help_text="Apply the shared risk rules.")
    threshold = models.FloatField(validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
                                  help_text="HOLD-gate threshold used for the signals.")
    initial_equity = models.DecimalField(**MONEY)
    sweep = models.BooleanField(default=False, help_text="Also run the spread/slippage/"
                                                         "threshold sweep grid.")
    commission_per_lot = models.DecimalField(
        **MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))],
        help_text="Money per lot per round trip (default: the instrument's).")
    swap_long_per_lot = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="Money per lot per night held long; "
                                                  "negative = a charge.")
    swap_short_per_lot = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="Money per lot per night held short; "
                                                  "negative = a charge.")
    leverage = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(1)],
        help_text="Account leverage (100 = 1:100): margin = lots x contract x price / leverage.")
    stop_out_level = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("50"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Margin level (%) below which the position is closed (stop-out).")
    params = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=10, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True, editable=False,
                             help_text="Token of the execution that owns the run.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="backtest_runs")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    synthetic_data = models.BooleanField(default=False,
                                         help_text="The bars of the period are synthetic.")
    bars = models.PositiveIntegerField(null=True, blank=True)
    trade_count = models.PositiveIntegerField(null=True, blank=True)
    net_profit = models.DecimalField(**MONEY, null=True, blank=True)
    final_equity = models.DecimalField(**MONEY, null=True, blank=True)
    max_drawdown = models.DecimalField(**MONEY, null=True, blank=True)
    total_costs = models.DecimalField(**MONEY, null=True, blank=True)
    return_pct = models.FloatField(null=True, blank=True)
    max_drawdown_pct = models.FloatField(null=True, blank=True)
    win_rate = models.FloatField(null=True, blank=True)
    profit_factor = models.FloatField(null=True, blank=True)
    sharpe = models.FloatField(null=True, blank=True)
    deflated_sharpe = models.FloatField(
        null=True, blank=True, help_text="Probability that the true Sharpe is above zero after "
                                         "the configurations tried (Deflated Sharpe Ratio).")
    pbo = models.FloatField(null=True, blank=True,
                            help_text="Probability of backtest overfitting (CSCV) over the "
                                      "sweep's configurations; empty without a sweep.")
    metrics = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=list, blank=True,
                                    help_text="[day, equity at its last bar's close] pairs.")
    sweep_results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")),
                                   name="backtests_run_period_order"),
            models.CheckConstraint(condition=models.Q(threshold__gte=0.5, threshold__lte=1.0),
                                   name="backtests_run_threshold_range"),
            models.CheckConstraint(
                condition=models.Q(spread_pips__gte=0, slippage_pips__gte=0, lots__gt=0,
                                   initial_equity__gt=0),
                name="backtests_run_positive_inputs"),
            models.CheckConstraint(
                condition=~models.Q(status__in=["succeeded", "failed"])
                | models.Q(finished_at__isnull=False),
                name="backtests_run_finished_has_time"),
        ]
        indexes = [
            models.Index(fields=["created_by", "-created_at"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"Backtest #{self.pk} of model #{self.model_id} {self.start}..{self.end}"

    @property
    def duration(self) -> timedelta | None:
        if self.duration_seconds is None:
            return None
        return timedelta(seconds=self.duration_seconds)

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)


class BacktestTrade(models.Model):
    """One closed trade of a run (times are bar open times, UTC; money to the cent)."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="trades")
    number = models.PositiveIntegerField(help_text="1-based, in the order trades closed.")
    side = models.CharField(max_length=4, choices=TradeSide.choices)
    lots = models.DecimalField(max_digits=12, decimal_places=4)
    signal_time = models.DateTimeField()
    entry_time = models.DateTimeField()
    exit_time = models.DateTimeField()
    entry_price = models.DecimalField(**PRICE)
    exit_price = models.DecimalField(**PRICE)
    sl = models.DecimalField(**PRICE, null=True, blank=True)
    tp = models.DecimalField(**PRICE, null=True, blank=True)
    gross_pnl = models.DecimalField(**MONEY)
    spread_cost = models.DecimalField(**MONEY)
    slippage_cost = models.DecimalField(**MONEY)
    commission = models.DecimalField(**MONEY)
    swap = models.DecimalField(**MONEY, help_text="Signed: a credit is positive.")
    costs = models.DecimalField(**MONEY)
    net_pnl = models.DecimalField(**MONEY)
    balance = models.DecimalField(**MONEY, help_text="Account balance after the trade.")
    exit_reason = models.CharField(max_length=20)
    bars_held = models.PositiveIntegerField()
    nights = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="backtests_trade_number"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.side} {self.entry_time:%Y-%m-%d %H:%M} {self.net_pnl}"


class BacktestReport(models.Model):
    """The run's report, rendered once when it finished (deterministic for the same run)."""

    run = models.OneToOneField(BacktestRun, on_delete=models.CASCADE, primary_key=True,
                               related_name="report")
    html = models.TextField(help_text="Self-contained HTML: inline SVG charts, no scripts.")
    equity_svg = models.TextField()
    drawdown_svg = models.TextField()
    monthly_svg = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Report of backtest #{self.run_id}"

