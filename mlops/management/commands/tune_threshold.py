"""``tune_threshold MODEL_ID``: pick the threshold on validation data, print the table, store."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops import selectors, services
from mlops.management.tables import fmt, pct, threshold_choice_table
from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = ("Choose a model's threshold on its validation window (never the test window) to "
            "maximise net expectancy per trade after costs, with a minimum number of trades.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model_id", type=int)
        parser.add_argument("--cost", type=float, default=None,
                            help="round-trip cost in price units (default: the training cost)")
        parser.add_argument("--min-trades", type=int, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            model = selectors.model_get(opts["model_id"])
            self.stdout.write(f"Tuning model #{model.pk} on its validation window "
                              f"{model.metrics['ranges']['validation']['start'][:10]}.."
                              f"{model.metrics['ranges']['validation']['end'][:10]} ...")
            outcome = services.model_tune_threshold(model, cost=opts["cost"],
                                                    min_trades=opts["min_trades"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        choice, test = outcome.choice, outcome.test
        self.stdout.write(f"cost {choice.cost:.4f} price units per trade, at least "
                          f"{choice.min_trades} trades")
        self.stdout.write(threshold_choice_table(choice))
        self.stdout.write(self.style.SUCCESS(
            f"Stored threshold {choice.threshold:.2f} (was {outcome.previous_threshold:.2f})."))
        if not choice.profitable:
            self.stdout.write(self.style.WARNING(
                "No threshold makes money after costs on validation: do not activate."))
        self.stdout.write(f"Test window at {choice.threshold:.2f} (evaluated after choosing): "
                          f"coverage {pct(test['coverage'])}, accuracy when trading "
                          f"{pct(test['gated_accuracy'])}, {test['trades']['n_trades']} trades, "
                          f"net expectancy {fmt(test['trades']['expectancy'], 4)}/trade")
