"""``positions --account ID [--all] [--json]``: open (or all) positions of an account."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import TradingAccount
from trading.selectors import position_list

COLUMNS = ("id", "symbol", "side", "volume", "entry_time", "entry_price", "sl", "tp", "status",
           "exit_time", "exit_price", "exit_reason", "commission", "swap", "gross_pnl",
           "net_pnl", "broker_ticket")


def _row(position: Any) -> dict[str, Any]:
    row = {}
    for column in COLUMNS:
        value = getattr(position, column)
        row[column] = value.isoformat() if hasattr(value, "isoformat") else (
            None if value is None else str(value) if not isinstance(value, int) else value)
    return row


class Command(BaseCommand):
    help = "List the open positions of an account (--all: closed ones too)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True)
        parser.add_argument("--all", action="store_true", help="closed positions too")
        parser.add_argument("--json", action="store_true", help="one JSON list")

    def handle(self, *args, **options) -> None:
        if not TradingAccount.objects.filter(pk=options["account"]).exists():
            raise CommandError(f"no trading account {options['account']}")
        rows = [_row(p) for p in position_list(options["account"], include_closed=options["all"])]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no positions")
            return
        shown = ("id", "symbol", "side", "volume", "entry_time", "entry_price", "sl", "tp",
                 "status", "exit_price", "exit_reason", "net_pnl")
        widths = {c: max(len(c), *(len(str(r[c] or "")) for r in rows)) for c in shown}
        self.stdout.write("  ".join(c.ljust(widths[c]) for c in shown))
        for r in rows:
            self.stdout.write("  ".join(str(r[c] or "").ljust(widths[c]) for c in shown))
        self.stdout.write(f"{len(rows)} position(s)")
