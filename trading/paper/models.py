"""The paper broker's book: the simulated server-side state of a paper account.

Money is ``Decimal`` to the cent; prices carry 8 decimals (a 5-digit quote plus fractional
pips of spread or slippage). Tickets are numbered per account (orders, deals and positions
share the counter, as MetaTrader's tickets do).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from trading.brokers.paper.defaults import (
    DEFAULT_COMMISSION_PER_LOT,
    DEFAULT_SLIPPAGE_PIPS,
    DEFAULT_SPREAD_PIPS,
    DEFAULT_STOP_OUT_LEVEL,
    DEFAULT_TIMEFRAME,
)

# The same choices as NusaTrade's own records (the broker's book and ours speak one language).
from trading.models import DealEntry, PositionStatus, Side

MONEY = {"max_digits": 18, "decimal_places": 2}
PRICE = {"max_digits": 20, "decimal_places": 8}
VOLUME = {"max_digits": 12, "decimal_places": 4}
non_negative = MinValueValidator(Decimal("0"))


class DealReason(models.TextChoices):
    CLIENT = "client", "Client (by hand)"
    EXPERT = "expert", "Expert (program)"
    STOP_LOSS = "stop_loss", "Stop-loss"
    TAKE_PROFIT = "take_profit", "Take-profit"
    STOP_OUT = "stop_out", "Stop-out"
    OTHER = "other", "Other"


class PaperAccount(models.Model):
    """The paper broker's side of a paper trading account: money, fill settings and how far the
    account has been brought up to the clock. Locked (``select_for_update``) by every call."""

    account = models.OneToOneField("accounts.TradingAccount", on_delete=models.CASCADE,
                                   related_name="paper")
    balance = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    leverage = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    spread_pips = models.DecimalField(max_digits=10, decimal_places=2,
                                      default=DEFAULT_SPREAD_PIPS, validators=[non_negative],
                                      help_text="Pips of the traded instrument (XAUUSD 3 = 0.30).")
    spread_from_bars = models.BooleanField(default=False,
                                           help_text="Use each bar's spread column instead.")
    slippage_pips = models.DecimalField(max_digits=10, decimal_places=2,
                                        default=DEFAULT_SLIPPAGE_PIPS, validators=[non_negative],
                                        help_text="Pips against us on every fill.")
    commission_per_lot = models.DecimalField(max_digits=12, decimal_places=2,
                                             default=DEFAULT_COMMISSION_PER_LOT,
                                             validators=[non_negative],
                                             help_text="Money per lot per round trip.")
    stop_out_level = models.DecimalField(max_digits=7, decimal_places=2,
                                         default=DEFAULT_STOP_OUT_LEVEL,
                                         validators=[non_negative],
                                         help_text="Margin level (%) below which the worst "
                                                   "position is closed.")
    timeframe = models.CharField(max_length=8, default=DEFAULT_TIMEFRAME,
                                 help_text="Bars whose closes apply SL/TP, swap and stop-out.")
    last_bar = models.DateTimeField(null=True, blank=True,
                                    help_text="Open time of the last closed bar applied.")
    next_ticket = models.BigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"paper book of account {self.account_id}"


class PaperPosition(models.Model):
    """A position at the paper broker (open, or closed with its closing deal's facts)."""

    paper_account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE,
                                      related_name="positions")
    ticket = models.BigIntegerField()
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    volume = models.DecimalField(**VOLUME, help_text="Open volume (at the close: the last "
                                                     "volume closed).")
    price_open = models.DecimalField(**PRICE)
    sl = models.DecimalField(**PRICE, null=True, blank=True)
    tp = models.DecimalField(**PRICE, null=True, blank=True)
    magic = models.BigIntegerField(default=0)
    client_id = models.CharField(max_length=64, blank=True, help_text="The order's comment.")
    opened_at = models.DateTimeField()
    nights = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=6, choices=PositionStatus.choices,
                              default=PositionStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    price_close = models.DecimalField(**PRICE, null=True, blank=True)
    close_reason = models.CharField(max_length=12, choices=DealReason.choices, blank=True)

    class Meta:
        ordering = ["paper_account", "ticket"]
        constraints = [models.UniqueConstraint(fields=["paper_account", "ticket"],
                                               name="paper_position_unique_ticket")]
        indexes = [models.Index(fields=["paper_account", "status"],
                                name="paper_position_status")]

    def __str__(self) -> str:
        return f"#{self.ticket} {self.side} {self.volume} {self.symbol}"


class PaperDeal(models.Model):
    """A fill at the paper broker (money in the account currency; commission and swap signed as
    MT5's: negative is a charge)."""

    paper_account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE,
                                      related_name="deals")
    ticket = models.BigIntegerField()
    order_ticket = models.BigIntegerField()
    position_ticket = models.BigIntegerField()
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    entry = models.CharField(max_length=6, choices=DealEntry.choices)
    volume = models.DecimalField(**VOLUME)
    price = models.DecimalField(**PRICE)
    profit = models.DecimalField(**MONEY)
    commission = models.DecimalField(**MONEY)
    swap = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    magic = models.BigIntegerField(default=0)
    client_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=12, choices=DealReason.choices)
    time = models.DateTimeField()

    class Meta:
        ordering = ["paper_account", "time", "ticket"]
        constraints = [models.UniqueConstraint(fields=["paper_account", "ticket"],
                                               name="paper_deal_unique_ticket")]
        indexes = [models.Index(fields=["paper_account", "time"], name="paper_deal_time")]

    def __str__(self) -> str:
        return f"deal #{self.ticket} {self.entry} {self.side} {self.volume} {self.symbol}"


class PaperOrder(models.Model):
    """An order the paper broker received (filled, or rejected with no deal)."""

    paper_account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE,
                                      related_name="orders")
    ticket = models.BigIntegerField()
    position_ticket = models.BigIntegerField(default=0)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    volume_initial = models.DecimalField(**VOLUME)
    volume_filled = models.DecimalField(**VOLUME)
    price = models.DecimalField(**PRICE, null=True, blank=True)
    state = models.CharField(max_length=16)
    magic = models.BigIntegerField(default=0)
    client_id = models.CharField(max_length=64, blank=True)
    time = models.DateTimeField()

    class Meta:
        ordering = ["paper_account", "time", "ticket"]
        constraints = [models.UniqueConstraint(fields=["paper_account", "ticket"],
                                               name="paper_order_unique_ticket")]
        indexes = [models.Index(fields=["paper_account", "time"], name="paper_order_time")]

    def __str__(self) -> str:
        return f"order #{self.ticket} {self.side} {self.volume_initial} {self.symbol}"
