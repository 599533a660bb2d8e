"""``generate_control_data --kind random_walk --years 5 --seed 3 [--out PATH]``: write a
known-answer control series (``marketdata.controls``) as an MT5 export file and create
its SYNTHETIC instrument; import it with ``import_bars PATH --symbol SYN_RWALK --timeframe H1
--synthetic``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.controls import CONTROLS, control_file_write
from nusatrade.errors import DataError


class Command(BaseCommand):
    help = ("Write a SYNTHETIC known-answer control series (random_walk: no edge; "
            "planted_edge: momentum planted in the returns) as an MT5 export file, under its "
            "own symbol; prints the file, the symbol and the import command.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=list(CONTROLS))
        parser.add_argument("--years", type=float, default=5.0)
        parser.add_argument("--seed", type=int, default=3)
        parser.add_argument("--edge", type=float, default=0.25,
                            help="planted_edge: the trend's drift per bar, in bar sd")
        parser.add_argument("--out", default=None,
                            help="file to write (default var/controls/<SYMBOL>-H1-seed<N>.txt)")

    def handle(self, *args, kind: str, years: float, seed: int, edge: float, out: str | None,
               **options) -> None:
        symbol = CONTROLS[kind].symbol
        path = Path(out) if out else (Path(settings.VAR_DIR) / "controls"
                                      / f"{symbol}-H1-seed{seed}.txt")
        try:
            written = control_file_write(kind, path, years=years, seed=seed, edge=edge)
        except (DataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        what = "no edge" if kind == "random_walk" else f"planted trends, edge {edge:g} sd/bar"
        self.stdout.write(
            f"SYNTHETIC control {kind} ({what}, seed {seed}): {written.bars:,} H1 bars "
            f"{written.first:%Y-%m-%d}..{written.last:%Y-%m-%d} as {symbol} -> {path}\n"
            f"  import: import_bars {path} --symbol {symbol} --timeframe H1 --synthetic")
