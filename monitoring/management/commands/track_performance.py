"""``track_performance [--date D] [--json]``: the daily performance snapshot on demand (the
body of the ``mlops.track_performance`` beat task); prints the table or JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if pct else (f"{value:.2f}" if isinstance(value, float)
                                              else str(value))


class Command(BaseCommand):
    help = "Store the performance snapshot of every model and account for a day (--date)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="UTC day (YYYY-MM-DD) to snapshot, as of its end; "
                                           "default: yesterday.")
        parser.add_argument("--no-drift", action="store_true",
                            help="Skip the drift computation (faster).")
        parser.add_argument("--json", action="store_true", help="Print the snapshots as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        from monitoring.services import performance_track

        day = None
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"--date {options['date']!r}: expected YYYY-MM-DD") from None
        snapshots = performance_track(day, drift=not options["no_drift"])
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(s) for s in snapshots], indent=2,
                                         default=str))
            return
        header = (f"{'scope':<24}{'trades':>7}{'net P/L':>12}{'win':>8}{'PF':>7}"
                  f"{'hit':>8}{'win p':>8}{'drift':>7}")
        self.stdout.write(header)
        for s in snapshots:
            hit = (s.signals.get("all") or {}).get("hit_rate", {}).get("estimate")
            p_win = (s.versus_backtest.get("win_rate_test") or {}).get("p_value")
            share = (s.drift.get("features") or {}).get("share_drifting")
            self.stdout.write(f"{s.scope_key:<24}{s.trades:>7}{s.net_pnl:>12}"
                              f"{_fmt(s.win_rate, True):>8}{_fmt(s.profit_factor):>7}"
                              f"{_fmt(hit, True):>8}{_fmt(p_win):>8}{_fmt(share, True):>7}")
        day_text = snapshots[0].date if snapshots else (day or "yesterday")
        self.stdout.write(f"track_performance {day_text}: {len(snapshots)} snapshot(s) stored")


def _as_dict(s: Any) -> dict[str, Any]:
    return {"date": s.date.isoformat(), "scope": s.scope_key, "account": s.account_id,
            "model": s.model_id, "trades": s.trades, "net_pnl": str(s.net_pnl),
            "win_rate": s.win_rate, "profit_factor": s.profit_factor, "figures": s.figures,
            "signals": s.signals, "expected": s.expected,
            "versus_backtest": s.versus_backtest, "drift": s.drift}
