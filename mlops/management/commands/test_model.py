"""``test_model MODEL_ID``: the model's latest predictions with probabilities and decisions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import selectors, services
from mlops.management.tables import predictions_table
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = "Show a model's BUY/SELL/HOLD decisions on the latest closed bars (nothing stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model_id", type=int)
        parser.add_argument("--last", type=int, default=10)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            model = selectors.model_get(opts["model_id"])
            frame = services.model_predict_latest(model, last=opts["last"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Model #{model.pk} {model.name} v{model.version} ({model.status}): "
                          f"{model.algorithm}, threshold {model.threshold:.2f}, "
                          f"trained on {model.data_start:%Y-%m-%d}..{model.data_end:%Y-%m-%d}")
        self.stdout.write(predictions_table(frame))
        counts = frame["decision"].value_counts()
        self.stdout.write(f"{int(counts.get(1, 0))} BUY, {int(counts.get(-1, 0))} SELL, "
                          f"{int(counts.get(0, 0))} HOLD over the last {len(frame)} bars. "
                          "HOLD: the chosen side's probability is below the threshold.")
