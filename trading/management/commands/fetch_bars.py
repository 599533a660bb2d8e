"""``fetch_bars``: store an account's latest closed bars now (the periodic task, by hand)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import TradingAccount
from nusatrade.errors import NusaTradeError
from trading.livebars import bars_fetch_live


class Command(BaseCommand):
    help = ("Fetch the latest CLOSED bars from an account's broker (paper: a synthetic feed) and "
            "store them; never the still-forming bar.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", type=int, required=True, help="trading account id")
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--count", type=int, default=500)

    def handle(self, *args, account: int, symbol: str, timeframe: str, count: int,
               **options) -> None:
        try:
            trading_account = TradingAccount.objects.get(pk=account)
        except TradingAccount.DoesNotExist:
            raise CommandError(f"no trading account with id {account}") from None
        try:
            result = bars_fetch_live(trading_account, symbol, timeframe, count)
        except (NusaTradeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
