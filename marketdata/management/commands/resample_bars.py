"""``resample_bars``: build and store a longer timeframe from stored bars (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from marketdata.calendar import DAY_BOUNDARIES, DEFAULT_DAY_BOUNDARY
from marketdata.derived import bars_resample
from nusatrade.errors import DataError


class Command(BaseCommand):
    help = ("Resample stored bars to a longer timeframe (complete bins only; D1/H4 on the forex "
            "day, 17:00 New York, unless --day-boundary utc) and store them; bars built from "
            "synthetic bars stay marked synthetic.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--from", dest="source", required=True, help="e.g. M15")
        parser.add_argument("--to", dest="target", required=True, help="e.g. H1")
        parser.add_argument("--start", default=None, help="first source bar time, UTC")
        parser.add_argument("--end", default=None, help="last source bar time, UTC")
        parser.add_argument("--day-boundary", choices=DAY_BOUNDARIES,
                            default=DEFAULT_DAY_BOUNDARY,
                            help="where D1 (and the H4 grid) start: ny17 = 17:00 New York, "
                                 "DST-aware, as brokers' daily candles (default); utc = "
                                 "midnight UTC")

    def handle(self, *args, symbol: str, source: str, target: str, start: str | None,
               end: str | None, day_boundary: str, **options) -> None:
        try:
            result = bars_resample(symbol, source, target, start=start, end=end,
                                   day_boundary=day_boundary)
        except (DataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        marked = f" ({result.synthetic_bars:,} SYNTHETIC)" if result.synthetic_bars else ""
        self.stdout.write(
            f"{result.symbol} {source.upper()} -> {result.timeframe}: {result.bars:,} bars"
            f"{marked} {result.span()}: {result.counts()}")
