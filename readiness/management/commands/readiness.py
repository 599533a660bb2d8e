"""``readiness --model 3 [--start 2025-11-01 --days 30] [--json] [--report PATH] [--activate]``.

Exit status: 0 GO, 3 NO-GO (``NO_GO_EXIT``); a refused run is a CommandError (status 1) and
stores nothing."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nusatrade.errors import NusaTradeError
from readiness.output import report_json, report_text

NO_GO_EXIT = 3


def day(text: str) -> date:
    return date.fromisoformat(text)


class Command(BaseCommand):
    help = ("Is the model ready for real money? Runs the held-out backtest with the "
            "spread/slippage sweep, a replay through the real trading cycle on a new paper "
            "account, the replay/backtest agreement, reconciliation, the tracker and the "
            "look-ahead check, then prints every criterion (measured, threshold, interval, "
            "PASS/FAIL) and the verdict. Exit status 0 for GO, 3 for NO-GO.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", type=int, required=True, metavar="ID")
        parser.add_argument("--start", type=day, default=None, metavar="YYYY-MM-DD",
                            help="first day of the replay, UTC (default: the last --days days "
                                 "of stored data)")
        parser.add_argument("--days", type=int, default=30,
                            help="replay length in UTC days (default 30)")
        parser.add_argument("--json", action="store_true",
                            help="print one JSON document: every figure, every criterion and "
                                 '"verdict": "GO" or "NO-GO"')
        parser.add_argument("--report", default=None, metavar="PATH",
                            help="write the HTML report to PATH (default: REPORTS_DIR/"
                                 "readiness-<id>-model-<model>.html)")
        parser.add_argument("--activate", action="store_true",
                            help="activate the model first if it is not the active model of "
                                 "its series (audited; it stays active): the replay trades "
                                 "the active model")

    def handle(self, *args: Any, **options: Any) -> None:
        from readiness.services import readiness_run

        def progress(text: str) -> None:
            self.stderr.write(text)

        try:
            report = readiness_run(
                options["model"], start=options["start"], days=options["days"],
                report_path=Path(options["report"]) if options["report"] else None,
                progress=None if options["json"] else progress,
                activate=options["activate"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report_json(report), indent=2, default=str))
        else:
            self.stdout.write(report_text(report))
        if report.verdict != "GO":
            sys.stdout.flush()
            raise SystemExit(NO_GO_EXIT)
