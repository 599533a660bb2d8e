"""An account's strategy settings: created with the account, and on first use for accounts
created before they existed (``strategy_settings_get``)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from nusatrade.errors import DataError
from trading.models import StrategySettings


def strategy_settings_get(account_id: int) -> StrategySettings:
    """The account's settings, created with the defaults (the ``backtest`` command's) when
    missing; safe when two callers race (the OneToOne is unique in the database)."""
    from accounts.models import TradingAccount

    settings = StrategySettings.objects.filter(account_id=account_id).first()
    if settings is not None:
        return settings
    if not TradingAccount.objects.filter(pk=account_id).exists():
        raise DataError(f"no trading account {account_id}", column="account")
    try:
        with transaction.atomic():
            return StrategySettings.objects.create(account_id=account_id)
    except IntegrityError:
        return StrategySettings.objects.get(account_id=account_id)
