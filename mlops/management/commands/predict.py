"""``predict``: the active model's decision on the latest closed bar (the beat task's body)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import services
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = "Predict the latest closed bar with the active model and store it (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            prediction = services.prediction_make(opts["symbol"], opts["timeframe"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        if prediction is None:
            self.stdout.write(f"{opts['symbol']} {opts['timeframe']}: no active model.")
            return
        self.stdout.write(
            f"model #{prediction.model_id}  bar {prediction.bar_time:%Y-%m-%d %H:%M} UTC  "
            f"P(up) {prediction.proba_up:.3f}  P(down) {prediction.proba_down:.3f}  "
            f"threshold {prediction.threshold:.2f}  -> {prediction.get_decision_display()}")
