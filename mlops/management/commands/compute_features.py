"""``compute_features``: store the features of the latest closed bar (the beat task's body)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import services
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = "Compute and store the features of the latest closed bar (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            snap = services.features_snapshot_compute(opts["symbol"], opts["timeframe"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        defined = sum(v is not None for v in snap.values.values())
        self.stdout.write(f"{opts['symbol']} {opts['timeframe']} bar "
                          f"{snap.bar_time:%Y-%m-%d %H:%M} UTC: {defined}/{len(snap.values)} "
                          f"features defined ({snap.feature_set_id}), snapshot #{snap.pk}")
