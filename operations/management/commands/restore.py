"""``manage.py restore PATH_OR_S3_KEY [--yes] [--json]``

Restore a backup made by ``manage.py backup`` into the configured database and ARTIFACTS_DIR.
Every file's SHA-256 is checked and the dump is restored into a scratch database first: a
corrupted or truncated backup is refused and NOTHING is changed. Afterwards the global kill
switch is engaged: run ``reconcile`` and release it to trade again (docs/DISASTER_RECOVERY.md).

Without ``--yes`` it asks for confirmation on a terminal and refuses when not interactive.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from nusatrade.errors import NusaTradeError


class Command(BaseCommand):
    help = ("Restore a verified backup (a local backup directory, its manifest.json, an "
            "s3://bucket/prefix/name URL, an S3 key or a backup name) over the configured "
            "database and model files; engages the global kill switch afterwards.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", metavar="PATH_OR_S3_KEY")
        parser.add_argument("--yes", action="store_true",
                            help="do not ask: replace the database (required when not on a "
                                 "terminal)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def _confirm(self, source: str) -> None:
        database = connection.settings_dict["NAME"]
        if not sys.stdin.isatty():
            raise CommandError("restore replaces the whole database: refusing without --yes "
                               "when not run on a terminal")
        self.stdout.write(f"This REPLACES database {database} and the model files with backup "
                          f"{source}, then halts all trading (global kill switch).")
        if input("Type 'yes' to continue: ").strip() != "yes":
            raise CommandError("restore cancelled; nothing was changed")

    def handle(self, *args, **options) -> None:
        from operations.services import backup_restore

        if not options["yes"]:
            self._confirm(options["source"])
        try:
            result = backup_restore(options["source"])
        except NusaTradeError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(warning))
        self.stdout.write(self.style.SUCCESS(
            f"restored backup {result.name}: {result.tables} tables, {result.rows} rows, "
            f"{len(result.artifacts)} model files. Global kill switch #{result.kill_switch_id} "
            "is ENGAGED: run `manage.py reconcile` for every account, then release it."))
