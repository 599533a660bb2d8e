"""``cycle_schedules [--json]``: (re)create the beat schedules of the trading cycle (H1, H4,
D1) and of the kill-switch expiry, idempotently (the data migration does the same once)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandParser

from trading.cycle.dispatch import cycle_schedules_ensure


class Command(BaseCommand):
    help = ("Create or repair the django-celery-beat schedules of the trading cycle and the "
            "kill-switch expiry (keeps each schedule's enabled flag).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON list")

    def handle(self, *args, **options) -> None:
        rows = cycle_schedules_ensure()
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(f"{row['action']:9}  {row['name']:22}  {row['task']:30}  "
                              f"{row['crontab']}")
        changed = sum(row["action"] != "unchanged" for row in rows)
        self.stdout.write(f"{len(rows)} schedules, {changed} created or updated")
