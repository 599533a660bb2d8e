"""Instruments (and, with the trading engine, signals, orders and trades)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

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
