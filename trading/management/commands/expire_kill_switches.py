"""``expire_kill_switches [--json]``: the periodic task ``trading.expire_kill_switches`` run by
hand: release every engaged kill switch whose ``release_at`` has passed (the daily-loss stop
at the next trading day). Explicit releases are ``kill_switch release``."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandParser

from trading.services.killswitches import kill_switches_expire


class Command(BaseCommand):
    help = "Release the kill switches whose timed release (release_at) has passed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args, **options) -> None:
        released = kill_switches_expire()
        if options["json"]:
            self.stdout.write(json.dumps({"released": [s.pk for s in released]}))
            return
        for switch in released:
            self.stdout.write(f"released kill switch {switch.pk} ({switch.scope})")
        self.stdout.write(f"{len(released)} kill switch(es) released")
