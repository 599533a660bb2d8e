"""``sync_positions --account ID``: close our positions the broker closed (SL/TP, stop-out)
from its deal history (the Celery task ``trading.sync_positions``, run by hand)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import TradingAccount
from trading.services import positions_sync


class Command(BaseCommand):
    help = "Record positions the broker closed on its own (SL/TP, stop-out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True)

    def handle(self, *args, **options) -> None:
        if not TradingAccount.objects.filter(pk=options["account"]).exists():
            raise CommandError(f"no trading account {options['account']}")
        report = positions_sync(options["account"])
        self.stdout.write(f"{len(report.closed)} closed, {report.still_open} still open")
