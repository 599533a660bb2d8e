"""Instruments; signals, orders, positions and deals; kill switches and risk policies.

Writes go through ``trading.services`` (``order_place`` is the one service that sends orders).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F

positive = MinValueValidator(Decimal("0.00000001"))


class Instrument(models.Model):
    """A tradable symbol with the contract facts that money math needs.

    XAUUSD: 100 oz per lot, point 0.01, 2 digits (some brokers quote 3: read ``symbol_info``).
    Profit per lot for a move of one ``tick_size`` is ``tick_value`` in ``profit_currency``.
    """

    symbol = models.CharField(max_length=32, unique=True)
    description = models.CharField(max_length=200, blank=True)
    digits = models.PositiveSmallIntegerField()
    point = models.DecimalField(max_digits=20, decimal_places=10, validators=[positive])
    contract_size = models.DecimalField(max_digits=20, decimal_places=4, validators=[positive])
    tick_size = models.DecimalField(max_digits=20, decimal_places=10, validators=[positive])
    tick_value = models.DecimalField(max_digits=20, decimal_places=10, validators=[positive])
    profit_currency = models.CharField(max_length=3, default="USD")
    # A pip in price units (XAUUSD 0.1 by the common convention, EURUSD 0.0001).
    pip_size = models.DecimalField(max_digits=20, decimal_places=10, validators=[positive])
    volume_min = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0.01"))
    volume_max = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("100"))
    volume_step = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0.01"))

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


# --- Orders, positions and money -------------------------------------------------------------
# Money is DecimalField end to end; every value comes from trading.pnl or from the broker.
MONEY = {"max_digits": 18, "decimal_places": 2}
PRICE = {"max_digits": 20, "decimal_places": 8}
VOLUME = {"max_digits": 12, "decimal_places": 4}


class Decision(models.TextChoices):
    BUY = "BUY", "BUY"
    SELL = "SELL", "SELL"
    HOLD = "HOLD", "HOLD"


class Side(models.TextChoices):
    BUY = "BUY", "BUY"
    SELL = "SELL", "SELL"


class Signal(models.Model):
    """A model's (or a person's) decision on one closed bar for one account.

    At most one signal per (account, model, symbol, bar): a late or repeated cycle for a bar
    already decided finds it instead of deciding again (a DB constraint, not only a check).
    """

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.PROTECT,
                                related_name="signals")
    model = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="signals", help_text="Empty for a manual decision.")
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=3, blank=True)
    bar_time = models.DateTimeField(help_text="Open time of the closed bar decided on (UTC).")
    probabilities = models.JSONField(default=dict, blank=True,
                                     help_text='e.g. {"BUY": 0.61, "SELL": 0.22, "HOLD": 0.17}')
    decision = models.CharField(max_length=4, choices=Decision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-bar_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "model", "symbol", "bar_time"],
                                    condition=models.Q(model__isnull=False),
                                    name="signal_one_per_account_model_bar"),
        ]
        # The API's list order (newest first) per account: an index walk, no sort.
        indexes = [models.Index(F("account"), F("bar_time").desc(), F("id").desc(),
                                name="signal_account_bar_desc")]

    def __str__(self) -> str:
        return f"{self.decision} {self.symbol} @ {self.bar_time:%Y-%m-%d %H:%M}"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending (intent committed, not sent)"
    SENT = "sent", "Sent (outcome not recorded yet)"
    FILLED = "filled", "Filled"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    REJECTED = "rejected", "Rejected"
    UNKNOWN = "unknown", "Unknown (look up at the broker)"
    CANCELLED = "cancelled", "Cancelled"


# Orders that may still become a position: risk counts them as exposure.
IN_FLIGHT = (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.UNKNOWN)
# Orders whose outcome is final.
FINAL = (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.REJECTED,
         OrderStatus.CANCELLED)


class OrderPurpose(models.TextChoices):
    OPEN = "open", "Open a position"
    CLOSE = "close", "Close a position"


class Order(models.Model):
    """One order intent and what became of it (the outbox row).

    The row is committed with its idempotency key BEFORE anything is sent to the broker, and
    the key is UNIQUE in the database: the same decision (account, model, bar, purpose) or the
    same manual client order id can only ever be one order. ``client_id`` is what the broker
    sees (``trading.brokers.base.client_id_for(idempotency_key)``), with ``magic``, so an order
    whose outcome was lost is found again instead of being sent twice.
    """

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.PROTECT,
                                related_name="orders")
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="orders")
    model = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="orders")
    idempotency_key = models.CharField(max_length=200, unique=True)
    client_id = models.CharField(max_length=31)
    magic = models.BigIntegerField()
    # The request. volume/side may be empty only on a rejected intent whose input was not valid.
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices, blank=True)
    volume = models.DecimalField(**VOLUME, null=True, blank=True)
    sl = models.DecimalField(**PRICE, null=True, blank=True)
    tp = models.DecimalField(**PRICE, null=True, blank=True)
    purpose = models.CharField(max_length=5, choices=OrderPurpose.choices,
                               default=OrderPurpose.OPEN)
    position = models.ForeignKey("Position", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="close_orders",
                                 help_text="The position a close order closes.")
    request = models.JSONField(default=dict, blank=True, help_text="The request as received.")
    reason = models.TextField(blank=True)
    # The outcome.
    status = models.CharField(max_length=16, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING)
    broker_order_ticket = models.BigIntegerField(null=True, blank=True)
    broker_deal_ticket = models.BigIntegerField(null=True, blank=True)
    broker_position_ticket = models.BigIntegerField(null=True, blank=True)
    filled_volume = models.DecimalField(**VOLUME, default=Decimal("0"))
    fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    retcode = models.IntegerField(null=True, blank=True)
    retcode_text = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True, help_text="Why it was rejected or cancelled.")
    attempts = models.PositiveIntegerField(default=0, help_text="Sends to the broker.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_id"],
                                    name="order_unique_client_id_per_account"),
            models.CheckConstraint(
                condition=models.Q(purpose="open") | models.Q(position__isnull=False)
                | models.Q(status="rejected"),
                name="order_close_names_its_position"),
        ]
        indexes = [models.Index(fields=["account", "status"], name="order_account_status"),
                   models.Index(F("account"), F("created_at").desc(), F("id").desc(),
                                name="order_account_created_desc")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.purpose} {self.side} {self.volume} {self.symbol} ({self.status})"


class PositionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class ExitReason(models.TextChoices):
    STOP_LOSS = "stop_loss", "Stop-loss"
    TAKE_PROFIT = "take_profit", "Take-profit"
    STOP_OUT = "stop_out", "Stop-out"
    CLOSED = "closed", "Closed by NusaTrade"
    CLIENT = "client", "Closed by hand at the broker"
    OTHER = "other", "Other"


class Position(models.Model):
    """A position NusaTrade opened, open or closed. Costs and P/L come from ``trading.pnl``:
    ``commission`` is a cost (positive), ``swap`` keeps its sign (negative: a charge),
    ``net_pnl = gross_pnl - commission + swap``."""

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.PROTECT,
                                related_name="positions")
    model = models.ForeignKey("mlops.MLModel", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="positions")
    opening_order = models.OneToOneField(Order, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="opened_position")
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    volume = models.DecimalField(**VOLUME)
    status = models.CharField(max_length=6, choices=PositionStatus.choices,
                              default=PositionStatus.OPEN)
    broker_ticket = models.BigIntegerField(null=True, blank=True)
    entry_price = models.DecimalField(**PRICE)
    entry_time = models.DateTimeField()
    sl = models.DecimalField(**PRICE, null=True, blank=True)
    tp = models.DecimalField(**PRICE, null=True, blank=True)
    exit_price = models.DecimalField(**PRICE, null=True, blank=True)
    exit_time = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=12, choices=ExitReason.choices, blank=True)
    commission = models.DecimalField(**MONEY, default=Decimal("0"))
    swap = models.DecimalField(**MONEY, default=Decimal("0"))
    gross_pnl = models.DecimalField(**MONEY, null=True, blank=True)
    net_pnl = models.DecimalField(**MONEY, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-entry_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "broker_ticket"],
                                    name="position_unique_ticket_per_account"),
            models.CheckConstraint(
                condition=models.Q(status="open", exit_time__isnull=True)
                | models.Q(status="closed", exit_time__isnull=False, exit_price__isnull=False,
                           net_pnl__isnull=False),
                name="position_closed_has_exit"),
        ]
        indexes = [models.Index(fields=["account", "status"], name="position_account_status"),
                   models.Index(F("account"), F("entry_time").desc(), F("id").desc(),
                                name="position_account_entry_desc")]

    def __str__(self) -> str:
        return f"{self.side} {self.volume} {self.symbol} #{self.broker_ticket} ({self.status})"


class DealEntry(models.TextChoices):
    IN = "in", "In"
    OUT = "out", "Out"
    INOUT = "inout", "Reverse"
    OUT_BY = "out_by", "Close by"


class Deal(models.Model):
    """One fill in the broker's deal history, as we recorded it (money as the broker reports
    it: MT5 reports commission as a negative amount)."""

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.PROTECT,
                                related_name="deals")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="deals")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="deals")
    broker_ticket = models.BigIntegerField()
    broker_order_ticket = models.BigIntegerField(null=True, blank=True)
    broker_position_ticket = models.BigIntegerField(null=True, blank=True)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    entry = models.CharField(max_length=6, choices=DealEntry.choices)
    volume = models.DecimalField(**VOLUME)
    price = models.DecimalField(**PRICE)
    profit = models.DecimalField(**MONEY, default=Decimal("0"))
    commission = models.DecimalField(**MONEY, default=Decimal("0"))
    swap = models.DecimalField(**MONEY, default=Decimal("0"))
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    reason = models.CharField(max_length=16, blank=True)
    magic = models.BigIntegerField(default=0)
    client_id = models.CharField(max_length=31, blank=True)
    time = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["time", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "broker_ticket"],
                                    name="deal_unique_ticket_per_account"),
        ]

    def __str__(self) -> str:
        return f"deal #{self.broker_ticket} {self.entry} {self.side} {self.volume} {self.symbol}"


# --- The risk gate the order path checks (the next issue automates engaging switches) -------
class KillSwitchScope(models.TextChoices):
    GLOBAL = "global", "Global (every account)"
    ACCOUNT = "account", "One account"
    MODEL = "model", "One model"


class KillSwitch(models.Model):
    """A persisted stop: while ``engaged``, no new order of its scope is placed (checked inside
    the locked order transaction). At most one engaged switch per scope target (constraints);
    a release keeps the row as history."""

    scope = models.CharField(max_length=7, choices=KillSwitchScope.choices)
    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.CASCADE, null=True,
                                blank=True, related_name="kill_switches")
    model = models.ForeignKey("mlops.MLModel", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="kill_switches")
    engaged = models.BooleanField(default=True)
    rule = models.CharField(max_length=40, blank=True,
                            help_text="The risk rule that engaged it (empty: manual).")
    reason = models.TextField()
    engaged_by = models.CharField(max_length=150)
    engaged_at = models.DateTimeField(auto_now_add=True)
    released_by = models.CharField(max_length=150, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)
    release_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Released by itself at this time (the daily-loss stop: the next trading "
                  "day). Empty: only an explicit release lifts it.")
    reset_after = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="Set on release: the exit time of the account's last closed position then. "
                  "The rule that engaged it judges only positions closed after it (the trade "
                  "window, losing streak and equity peak start afresh, as in the backtester).")

    class Meta:
        ordering = ["-engaged_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope="global", account__isnull=True, model__isnull=True)
                | models.Q(scope="account", account__isnull=False, model__isnull=True)
                | models.Q(scope="model", account__isnull=True, model__isnull=False),
                name="killswitch_scope_matches_target"),
            models.UniqueConstraint(fields=["scope"],
                                    condition=models.Q(engaged=True, scope="global"),
                                    name="killswitch_one_engaged_global"),
            models.UniqueConstraint(fields=["account"],
                                    condition=models.Q(engaged=True, scope="account"),
                                    name="killswitch_one_engaged_per_account"),
            models.UniqueConstraint(fields=["model"],
                                    condition=models.Q(engaged=True, scope="model"),
                                    name="killswitch_one_engaged_per_model"),
        ]

    def __str__(self) -> str:
        target = {"account": self.account_id, "model": self.model_id}.get(self.scope, "")
        state = "engaged" if self.engaged else "released"
        return f"kill switch {self.scope} {target or ''} {state}".replace("  ", " ")


percent = [MinValueValidator(Decimal("0.01"))]


class TradingError(models.Model):
    """A critical error in the trading path (a cycle or an order that failed unexpectedly).

    Counted by the "repeated critical errors" stop (``trading.services.stops``): stored in the
    database so the count survives a restart of every worker, and kept as a record."""

    account = models.ForeignKey("accounts.TradingAccount", on_delete=models.CASCADE,
                                related_name="trading_errors")
    occurred_at = models.DateTimeField(db_index=True)
    where = models.CharField(max_length=100, help_text="The step that failed (e.g. cycle).")
    error = models.TextField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "occurred_at"],
                                name="tradingerror_account_time")]

    def __str__(self) -> str:
        return (f"error in {self.where} (account {self.account_id}) "
                f"at {self.occurred_at:%Y-%m-%d %H:%M}")


class RiskPolicy(models.Model):
    """One account's risk rules, with the seed's defaults. Empty thresholds switch a rule off.
    :meth:`to_config` is the pure ``trading.risk.RiskConfig`` the rules run on."""

    account = models.OneToOneField("accounts.TradingAccount", on_delete=models.CASCADE,
                                   related_name="risk_policy")
    lots = models.DecimalField(**VOLUME, default=Decimal("0.01"), validators=[positive])
    max_trades_per_day = models.PositiveIntegerField(null=True, blank=True, default=2)
    one_position_per_symbol = models.BooleanField(default=True)
    daily_loss_stop_pct = models.DecimalField(max_digits=6, decimal_places=2, null=True,
                                              blank=True, default=Decimal("5"),
                                              validators=percent)
    max_consecutive_losses = models.PositiveIntegerField(null=True, blank=True, default=5)
    min_profit_factor = models.DecimalField(max_digits=6, decimal_places=2, null=True,
                                            blank=True, default=Decimal("1.0"))
    min_win_rate_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True,
                                           blank=True, default=Decimal("35"), validators=percent)
    kill_switch_window = models.PositiveIntegerField(default=20)
    kill_switch_min_trades = models.PositiveIntegerField(default=10)
    max_drawdown_pct = models.DecimalField(max_digits=6, decimal_places=2, null=True,
                                           blank=True, default=Decimal("15"), validators=percent)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "risk policies"

    def __str__(self) -> str:
        return f"risk policy of account {self.account_id}"

    def to_config(self):  # -> trading.risk.RiskConfig (imported lazily: models stay light)
        from trading.risk import RiskConfig

        def pct(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return RiskConfig(
            max_trades_per_day=self.max_trades_per_day,
            one_position_per_symbol=self.one_position_per_symbol,
            daily_loss_stop_pct=pct(self.daily_loss_stop_pct),
            max_consecutive_losses=self.max_consecutive_losses,
            min_profit_factor=pct(self.min_profit_factor),
            min_win_rate=None if self.min_win_rate_pct is None
            else float(self.min_win_rate_pct) / 100.0,
            kill_switch_window=self.kill_switch_window,
            kill_switch_min_trades=self.kill_switch_min_trades,
            max_drawdown_pct=pct(self.max_drawdown_pct),
        )


class StrategySettings(models.Model):
    """How one account trades its model's signals (next to its :class:`RiskPolicy`).

    The defaults are the ``backtest`` command's (backtests/management/commands/backtest.py:
    0.01 lots, SL 1.5 x ATR(14), TP 3.0 x ATR(14), no time exit, exit and reverse on an
    opposite signal, the model's own threshold), so a default account trades exactly what a
    default backtest tested. The paper broker's costs (spread, slippage, commission, leverage,
    stop-out) live on the paper book (``trading.paper.PaperAccount``) and swaps on the
    instrument: ``backtest --account`` reads them from there, so nothing is kept twice.
    ``backtests.services.account`` turns these settings into a backtest config (the ONE
    conversion).
    """

    account = models.OneToOneField("accounts.TradingAccount", on_delete=models.CASCADE,
                                   related_name="strategy_settings")
    symbol = models.CharField(max_length=32, default="XAUUSD",
                              help_text="The symbol traded (its active model decides).")
    timeframe = models.CharField(max_length=3, default="H1",
                                 help_text="The bars the cycle decides on (e.g. H1).")
    lots = models.DecimalField(**VOLUME, default=Decimal("0.01"), validators=[positive],
                               help_text="Fixed volume per trade (ignored with a risk %).")
    risk_per_trade_pct = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=percent,
        help_text="Size each trade so its stop-loss loses this percent of the balance "
                  "(empty: fixed lots). Needs a stop-loss.")
    sl_atr = models.FloatField(null=True, blank=True, default=1.5,
                               validators=[MinValueValidator(0.01)],
                               help_text="Stop-loss at this multiple of ATR from the entry "
                                         "(empty: none).")
    tp_atr = models.FloatField(null=True, blank=True, default=3.0,
                               validators=[MinValueValidator(0.01)],
                               help_text="Take-profit at this multiple of ATR (empty: none).")
    atr_period = models.PositiveSmallIntegerField(default=14,
                                                  validators=[MinValueValidator(1)])
    max_bars_held = models.PositiveIntegerField(null=True, blank=True,
                                                validators=[MinValueValidator(1)],
                                                help_text="Time exit after N bars (empty: "
                                                          "none).")
    exit_on_opposite = models.BooleanField(default=True,
                                           help_text="An opposite signal closes the position "
                                                     "and opens the other way.")
    threshold = models.FloatField(null=True, blank=True,
                                  validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
                                  help_text="HOLD-gate threshold 0.5-1 (empty: the model's).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "strategy settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_per_trade_pct__isnull=True)
                | models.Q(sl_atr__isnull=False),
                name="strategy_risk_sizing_needs_stop"),
        ]

    def __str__(self) -> str:
        return f"strategy settings of account {self.account_id}"


# Reconciliation runs and items live in their own module (registered here, in this app).
from trading.models_reconciliation import (  # noqa: E402, F401
    FindingKind,
    ItemAction,
    ReconciliationItem,
    ReconciliationRun,
    ReconciliationStatus,
    Severity,
)
