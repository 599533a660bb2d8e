"""``resample_bars``: build and store a longer timeframe from stored bars (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from marketdata.derived import bars_resample
from nusatrade.errors import DataError


class Command(BaseCommand):
    help = ("Resample stored bars to a longer timeframe (complete UTC-aligned bins only) and "
            "store them; bars built from synthetic bars stay marked synthetic.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--from", dest="source", required=True, help="e.g. M15")
        parser.add_argument("--to", dest="target", required=True, help="e.g. H1")
        parser.add_argument("--start", default=None, help="first source bar time, UTC")
        parser.add_argument("--end", default=None, help="last source bar time, UTC")

    def handle(self, *args, symbol: str, source: str, target: str, start: str | None,
               end: str | None, **options) -> None:
        try:
            result = bars_resample(symbol, source, target, start=start, end=end)
        except (DataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        marked = f" ({result.synthetic_bars:,} SYNTHETIC)" if result.synthetic_bars else ""
        self.stdout.write(
            f"{result.symbol} {source.upper()} -> {result.timeframe}: {result.bars:,} bars"
            f"{marked} {result.span()}: {result.counts()}")
