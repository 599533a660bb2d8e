"""``retrain [--if-flagged] [--symbol XAUUSD --timeframe H1] [--json]``: one champion vs
challenger round (the ``mlops.retrain`` task's body)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = "Train a challenger, compare it with the champion out of sample, maybe promote it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-flagged", action="store_true",
                            help="Only when the champion has a pending/approved request.")
        parser.add_argument("--symbol", default="XAUUSD")
        parser.add_argument("--timeframe", default="H1")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from monitoring.services.retrain import retrain

        try:
            run = retrain(options["symbol"], options["timeframe"],
                          if_flagged=options["if_flagged"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from None
        result = ({"run": None, "decision": "not flagged"} if run is None else
                  {"run": run.pk, "champion": run.champion_id,
                   "challenger": run.challenger_id, "window": [str(run.window_start),
                                                               str(run.window_end)],
                   "decision": run.decision, "comparison": run.comparison})
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        elif run is None:
            self.stdout.write("retrain: the champion is not flagged; nothing done")
        else:
            self.stdout.write(f"retrain: challenger #{run.challenger_id} vs champion "
                              f"#{run.champion_id} on {run.window_start}..{run.window_end}: "
                              f"{run.detail} -> {run.decision}")
