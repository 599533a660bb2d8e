"""``trade_cycle --account ID [--at ISO_TIME] [--dry-run] [--json]``: run one trading cycle
now (or, on a paper account, as of a past bar close) and print what it decided and did."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError


def aware_time(text: str) -> datetime:
    """An ISO 8601 time WITH its UTC offset (``2024-03-06T10:00:05+00:00`` or ``...Z``)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(text) from None
    if value.tzinfo is None:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = ("Run one trading cycle for an account: freshness, features, prediction, HOLD gate, "
            "kill switches and risk, order, position management. --at (paper accounts only) "
            "runs it as of a past time; --dry-run decides and records nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True, metavar="ID")
        parser.add_argument("--at", type=aware_time, default=None, metavar="ISO_TIME",
                            help="the clock, a timezone-aware ISO time such as "
                                 "2024-03-06T10:00:05+00:00 (paper accounts only)")
        parser.add_argument("--dry-run", action="store_true",
                            help="decide and print; record nothing, send nothing")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from trading.cycle.run import cycle_run

        try:
            outcome = cycle_run(options["account"], at=options["at"],
                                dry_run=options["dry_run"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(outcome.to_dict(), indent=2, default=str))
        else:
            self.stdout.write(outcome.summary)
