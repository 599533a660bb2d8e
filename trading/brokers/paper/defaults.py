"""The paper broker's default costs: the ``backtest`` command's, so a default paper account
trades what a default backtest tested. A leaf module (Decimal only): the ``trading.paper`` models
import it without loading the broker (and pandas) at ``django.setup()``."""

from __future__ import annotations

from decimal import Decimal

DEFAULT_SPREAD_PIPS = Decimal("3")
DEFAULT_SLIPPAGE_PIPS = Decimal("1")
DEFAULT_COMMISSION_PER_LOT = Decimal("0")
DEFAULT_TIMEFRAME = "H1"
# Equal to trading.pnl.STOP_OUT_LEVEL (MT5's usual 50 %); a test keeps the two equal.
DEFAULT_STOP_OUT_LEVEL = Decimal("50")
