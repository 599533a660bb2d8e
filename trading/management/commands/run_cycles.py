"""``run_cycles --timeframe TF [--at ISO_TIME] [--json]``: the periodic task
``trading.run_cycles`` run by hand: queue one cycle per account with an active model for the
bar that has just closed (``--at``: a drill clock, paper accounts only). Queued tasks run on a
worker of the ``trading`` queue (or at once when Celery is eager: the embedded default)."""

from __future__ import annotations

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.cycle import schedule
from trading.cycle.dispatch import cycles_dispatch


class Command(BaseCommand):
    help = "Queue one trading cycle per account with an active model for the timeframe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeframe", required=True,
                            choices=schedule.SCHEDULED_TIMEFRAMES)
        parser.add_argument("--at", default=None, metavar="ISO_TIME",
                            help="drill clock (paper accounts only), e.g. 2026-11-25T10:00Z")
        parser.add_argument("--settle-seconds", type=int, default=schedule.SETTLE_SECONDS)
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args, **options) -> None:
        at = None
        if options["at"]:
            try:
                at = datetime.fromisoformat(options["at"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError(f"--at: not an ISO time: {options['at']!r}") from None
            if at.tzinfo is None:
                raise CommandError("--at: give a time zone, e.g. 2026-11-25T10:00+00:00")
        try:
            report = cycles_dispatch(options["timeframe"], at=at,
                                     settle_seconds=options["settle_seconds"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        for account_id, why in report.skipped.items():
            self.stdout.write(f"account {account_id}: skipped ({why})")
        self.stdout.write(f"{report.timeframe} bar close {report.bar_close:%Y-%m-%d %H:%M} "
                          f"UTC: {len(report.queued)} cycle(s) queued"
                          + (" (drill)" if report.drill else ""))
