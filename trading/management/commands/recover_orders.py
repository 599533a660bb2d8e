"""``recover_orders [--account ID] [--min-age SECONDS]``: resolve orders left pending, sent or
unknown by a crash or an unknown broker answer, by looking them up at the broker (the Celery
task ``trading.recover_orders``, run by hand)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from trading.services import order_recover


class Command(BaseCommand):
    help = "Resolve in-flight orders by client id at the broker (never resends)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, default=None)
        parser.add_argument("--min-age", type=int, default=0, metavar="SECONDS",
                            help="only orders at least this old (default 0)")

    def handle(self, *args, **options) -> None:
        report = order_recover(options["account"],
                               min_age=timedelta(seconds=options["min_age"]))
        for order_id, status in report.resolved:
            self.stdout.write(f"order {order_id}: {status}")
        for order_id, error in report.failed:
            self.stdout.write(f"order {order_id}: broker unavailable ({error})")
        self.stdout.write(f"{len(report.resolved)} resolved, {len(report.busy)} busy, "
                          f"{len(report.failed)} failed")
