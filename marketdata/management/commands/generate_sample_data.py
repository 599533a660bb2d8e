"""``generate_sample_data``: store deterministic SYNTHETIC bars (idempotent on rerun)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from marketdata.derived import DEFAULT_SAMPLE_START, bars_generate_sample
from nusatrade.errors import DataError


class Command(BaseCommand):
    help = ("Generate SYNTHETIC gold-like bars (marketdata.synthetic) and store them marked "
            "synthetic. Same arguments, same bars: a rerun inserts nothing.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--years", type=float, default=21.0)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--start", default=DEFAULT_SAMPLE_START,
                            help="first day, UTC (default %(default)s)")
        parser.add_argument("--start-price", type=float, default=None,
                            help="first open (default: the symbol's 2005 price, 430 for gold)")

    def handle(self, *args, symbol: str, timeframe: str, years: float, seed: int, start: str,
               start_price: float | None, **options) -> None:
        try:
            result = bars_generate_sample(symbol, timeframe, years=years, seed=seed, start=start,
                                          start_price=start_price)
        except (DataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"SYNTHETIC {result.symbol} {result.timeframe} (seed {seed}, {years:g} years): "
            f"{result.bars:,} bars {result.span()}: {result.counts()}")
