"""``replay --account ID --start 2024-01-01 --days 30 [--json]``: the real trading cycle, bar by
bar over stored history, on a paper account; prints the period's metrics (``--json``: also
the closed trades, the risk halts, refused entries and kill-switch events)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError

SHOWN = (("trades", "trades", "{:d}"), ("net_profit", "net profit", "{:,.2f}"),
         ("win_rate", "win rate", "{:.1%}"), ("profit_factor", "profit factor", "{:.2f}"),
         ("max_drawdown", "max drawdown", "{:,.2f}"), ("return_pct", "return %", "{:.2f}"),
         ("sharpe", "Sharpe", "{:.2f}"))


def day(text: str) -> date:
    return date.fromisoformat(text)


def _cell(value: Any, pattern: str) -> str:
    if value is None:
        return "-"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


class Command(BaseCommand):
    help = ("Replay stored history through the real trading cycle on a PAPER account (clock "
            "and bars advanced by the replay; signals, orders, paper fills, SL/TP, kill "
            "switches and risk rules are production). Lists the same trades as "
            "`backtest --model M --account ID --start S --end E --json`.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True, metavar="ID")
        parser.add_argument("--start", type=day, required=True, metavar="YYYY-MM-DD",
                            help="first day, UTC")
        parser.add_argument("--days", type=int, default=30, help="UTC days (default 30)")
        parser.add_argument("--json", action="store_true",
                            help="print metrics, closed trades, halts and kill-switch events "
                                 "as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from trading.cycle.replay import replay_run

        progress = None
        if not options["json"] and sys.stderr.isatty():
            def progress(done: int, total: int) -> None:
                if done % 50 == 0 or done == total:
                    self.stderr.write(f"\r{done}/{total} cycles", ending="")
        try:
            result = replay_run(options["account"], options["start"], options["days"],
                                progress=progress)
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), indent=2, default=str))
            return
        rows = [f"{label:>14}  {_cell(result.metrics.get(key), pattern)}"
                for key, label, pattern in SHOWN]
        self.stdout.write("\n".join(rows))
        for halt in result.halts:
            self.stdout.write(f"halt {halt['time']} {halt['rule']}: {halt['reason']}")
        if result.denied_by_rule:
            self.stdout.write("entries refused: " + ", ".join(
                f"{rule} {count}" for rule, count in result.denied_by_rule.items()))
        self.stdout.write(self.style.SUCCESS(
            f"Replayed {result.bars} bars ({result.cycles} cycles) of account "
            f"{result.account_id} from {result.start} for {result.days} days in "
            f"{result.seconds:.1f} s ({result.bars / result.seconds:.0f} bars/s)."))
