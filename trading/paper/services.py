"""Paper accounts: the one write outside the broker's own calls."""

from __future__ import annotations

from typing import Any

from accounts.models import TradingAccount
from trading.paper.models import PaperAccount


def paper_account_ensure(account: TradingAccount, **settings: Any) -> PaperAccount:
    """The paper book of ``account``, created on first use with the account's initial balance,
    currency and leverage (and any ``settings`` given: spread_pips, slippage_pips,
    commission_per_lot, stop_out_level, spread_from_bars, timeframe). Race-safe: the one-to-one
    is unique, and ``get_or_create`` re-reads the row another process created first."""
    defaults = {"balance": account.initial_balance, "currency": account.currency,
                "leverage": account.leverage, **settings}
    paper, _created = PaperAccount.objects.get_or_create(account=account, defaults=defaults)
    return paper
