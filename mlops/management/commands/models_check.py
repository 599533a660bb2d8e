"""``models_check [--json]``: which registered models no longer match their fingerprint?"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops.services.registry import models_identity_check


class Command(BaseCommand):
    help = ("List every registered model whose fingerprint (feature code, libraries, label "
            "spec, bars source, manifest) no longer matches, naming what changed. Exits 1 if "
            "any does.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON instead")

    def handle(self, *args: Any, **opts: Any) -> None:
        checked, mismatched = models_identity_check()
        if opts["json"]:
            self.stdout.write(json.dumps({"checked": checked, "mismatched": [
                {"id": m.pk, "name": m.name, "version": m.version, "status": m.status,
                 "fingerprint": m.fingerprint, "changes": changes}
                for m, changes in mismatched]}, indent=2))
        else:
            for model, changes in mismatched:
                self.stdout.write(f"model #{model.pk} {model.name} v{model.version} "
                                  f"({model.status}): fingerprint no longer matches")
                for change in changes:
                    self.stdout.write(f"  - {change}")
            self.stdout.write(f"{checked} model(s) checked, {len(mismatched)} no longer match "
                              "their fingerprint" + (": retrain them." if mismatched else "."))
        if mismatched:
            raise CommandError(f"{len(mismatched)} model(s) no longer match their fingerprint",
                               returncode=1)
